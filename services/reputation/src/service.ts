import { defineService } from '@zerostate/service-kit';
import { reputationConfigSchema } from './config.js';
import { PrismaClient } from './generated/prisma/client.js';

/** The reputation service (NATS `reputation`). Add endpoints, consumers and jobs here. */
export default defineService({
  manifest: new URL('../package.json', import.meta.url),
  description: 'The reputation service',
  config: reputationConfigSchema,
  prisma: (adapter) => new PrismaClient({ adapter }),
  build: async () => ({ endpoints: [] }),
});
