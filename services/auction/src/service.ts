import { defineJob, defineService } from '@zerostate/service-kit';
import { auctionConfigSchema } from './config.js';
import { scoreFeed } from './consumers.js';
import { markStaleAgentsOffline } from './db/agents.js';
import { closeDueAuctions } from './db/closing.js';
import { missedHeartbeatsBeforeOffline } from './domain/bid-rules.js';
import { PrismaClient } from './generated/prisma/client.js';
import { agentRegistrations } from './handlers/agents.js';
import { auctionRegistrations } from './handlers/auctions.js';
import { createAuctionMetrics } from './metrics.js';

/**
 * The auction service (NATS `auction`): the agent registry, sealed-bid auctions and bids, a job
 * that closes auctions at expiry exactly once (docs/AUCTIONS.md), the reputation read model it
 * builds from the reputation service's score feed, and a job that marks silent agents offline.
 */
export default defineService({
  manifest: new URL('../package.json', import.meta.url),
  description: 'Agents, sealed-bid auctions and their clearing',
  config: auctionConfigSchema,
  prisma: (adapter) => new PrismaClient({ adapter }),
  build: async ({ config, prisma, pool, kickOutbox, registry }) => {
    const metrics = createAuctionMetrics(registry, prisma);
    return {
      endpoints: [
        ...agentRegistrations({ prisma, kickOutbox }),
        ...auctionRegistrations({ prisma, pool, kickOutbox, metrics }),
      ],
      consumers: [scoreFeed],
      jobs: [
        defineJob({
          name: 'close-auctions',
          intervalMs: config.AUCTION_CLOSE_INTERVAL_MS,
          // Closing is safe to run on two replicas at once (each auction under its own row lock),
          // so a replica that dies mid-run may hold the job only briefly, not the kit's 5 minutes.
          leaseMs: Math.max(5_000, 20 * config.AUCTION_CLOSE_INTERVAL_MS),
          run: async () => {
            const closed = await closeDueAuctions(prisma, { batch: 100 });
            for (const each of closed) metrics.closed(each);
            if (closed.length > 0) kickOutbox();
            await metrics.countOpen();
          },
        }),
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
    };
  },
});
