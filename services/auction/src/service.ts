import { defineService } from '@zerostate/service-kit';
import { auctionConfigSchema } from './config.js';
import { PrismaClient } from './generated/prisma/client.js';

/** The auction service (NATS `auction`). Add endpoints, consumers and jobs here. */
export default defineService({
  manifest: new URL('../package.json', import.meta.url),
  description: 'The auction service',
  config: auctionConfigSchema,
  prisma: (adapter) => new PrismaClient({ adapter }),
  build: async () => ({ endpoints: [] }),
});
