import { defineJob, defineService } from '@zerostate/service-kit';
import { reputationConfigSchema } from './config.js';
import { type Clock, reputationConsumers } from './events.js';
import { PrismaClient } from './generated/prisma/client.js';
import { reputationRegistrations } from './handlers/index.js';
import { decayScores, housekeep } from './jobs.js';
import { createReputationMetrics } from './metrics.js';

const systemClock: Clock = () => new Date();

/**
 * The reputation service (NATS `reputation`): scores per agent built only from task and auction
 * events, the agent-performance read model and ratings. Its rules are in docs/REPUTATION.md and
 * src/domain; `clock` is the time scores are computed at (tests pass a fixed one).
 */
export function reputationService(options: { clock?: Clock } = {}) {
  const clock = options.clock ?? systemClock;
  return defineService({
    manifest: new URL('../package.json', import.meta.url),
    description: 'Agent reputation: explainable scores from task and auction events, ratings, performance',
    config: reputationConfigSchema,
    prisma: (adapter) => new PrismaClient({ adapter }),
    build: async ({ config, pool, logger, registry, kickOutbox }) => {
      const metrics = createReputationMetrics(registry);
      return {
        endpoints: reputationRegistrations({ pool, clock, kickOutbox, metrics }),
        consumers: reputationConsumers(clock),
        jobs: [
          defineJob({
            name: 'score-decay',
            intervalMs: config.REPUTATION_DECAY_INTERVAL_MS,
            run: async (signal) => {
              const changed = await decayScores({
                pool,
                clock,
                ageMs: config.REPUTATION_DECAY_AGE_MS,
                batch: config.REPUTATION_DECAY_BATCH,
                signal,
                metrics,
              });
              if (changed > 0) kickOutbox();
            },
          }),
          defineJob({
            name: 'housekeeping',
            intervalMs: config.REPUTATION_HOUSEKEEPING_INTERVAL_MS,
            run: (signal) => housekeep(pool, logger, signal),
          }),
        ],
        exposed: {
          /** Runs the decay job's work now (tests). */
          decay: (ageMs = config.REPUTATION_DECAY_AGE_MS) =>
            decayScores({ pool, clock, ageMs, batch: config.REPUTATION_DECAY_BATCH, metrics }),
        },
      };
    },
  });
}

export default reputationService();
