import { defineService } from '@zerostate/service-kit';
import { taskConfigSchema } from './config.js';
import { auctionOutcomeConsumers } from './consumers.js';
import { PrismaClient } from './generated/prisma/client.js';
import { taskRegistrations } from './handlers/tasks.js';
import { taskJobs } from './jobs.js';
import { createTaskMetrics } from './metrics.js';
import { createSaga } from './saga.js';

/**
 * The task service (NATS `task`): tasks and their lifecycle (SPEC §4.5), the saga that holds,
 * captures and refunds each task's escrow (payment) and opens and cancels its auction (auction),
 * calling both as itself; durable consumers of the auction's outcomes; jobs for timeouts,
 * acceptance windows and saga steps still owed.
 */
export default defineService({
  manifest: new URL('../package.json', import.meta.url),
  description: 'Tasks, their lifecycle and the marketplace saga',
  config: taskConfigSchema,
  prisma: (adapter) => new PrismaClient({ adapter }),
  build: async ({ config, prisma, pool, nc, signer, logger, registry, kickOutbox }) => {
    if (!signer) {
      throw new Error(
        'BUS_SIGNING_KEYS must hold the payment and auction links: the task service calls both as itself',
      );
    }
    const metrics = createTaskMetrics(registry);
    const saga = createSaga({ nc, signer, prisma, logger, config, metrics, kickOutbox });
    return {
      endpoints: taskRegistrations({ prisma, saga, config, metrics, kickOutbox }),
      consumers: auctionOutcomeConsumers(saga, metrics),
      jobs: taskJobs({ prisma, pool, logger, saga, config, metrics, kickOutbox }),
    };
  },
});
