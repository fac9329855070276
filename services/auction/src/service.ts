import { defineJob, defineService } from '@zerostate/service-kit';
import { auctionConfigSchema } from './config.js';
import { scoreFeed } from './consumers.js';
import { markStaleAgentsOffline } from './db/agents.js';
import { missedHeartbeatsBeforeOffline } from './domain/bid-rules.js';
import { PrismaClient } from './generated/prisma/client.js';
import { agentRegistrations } from './handlers/agents.js';

/**
 * The auction service (NATS `auction`): the agent registry, with the reputation read model it
 * builds from the reputation service's score feed and a job that marks silent agents offline.
 * Auctions, bids and clearing come next (docs/AUCTIONS.md has their rules).
 */
export default defineService({
  manifest: new URL('../package.json', import.meta.url),
  description: 'Agents, sealed-bid auctions and their clearing',
  config: auctionConfigSchema,
  prisma: (adapter) => new PrismaClient({ adapter }),
  build: async ({ config, prisma, kickOutbox }) => ({
    endpoints: agentRegistrations({ prisma, kickOutbox }),
    consumers: [scoreFeed],
    jobs: [
      defineJob({
        name: 'agents-offline',
        intervalMs: config.AGENT_HEARTBEAT_INTERVAL_MS,
        run: async () => {
          const marked = await markStaleAgentsOffline(
            prisma,
            missedHeartbeatsBeforeOffline * config.AGENT_HEARTBEAT_INTERVAL_MS,
          );
          if (marked > 0) kickOutbox();
        },
      }),
    ],
  }),
});
