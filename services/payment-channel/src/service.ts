import { defineJob, defineService } from '@zerostate/service-kit';
import { paymentConfigSchema } from './config.js';
import type { PaymentPrisma } from './db/prisma.js';
import { PrismaClient } from './generated/prisma/client.js';
import { paymentRegistrations } from './handlers/index.js';
import { housekeep } from './housekeeping.js';
import { createPaymentMetrics } from './metrics.js';
import { createReconciler } from './reconciliation.js';
import { sweepExpiredChannels } from './settlement.js';

/**
 * The payment-channel service (NATS `payment`): accounts, the double-entry ledger, payment
 * channels and task escrow. The kit owns the pool, Prisma, NATS, outbox relay, admin port and
 * stop order; this is what the service adds: its endpoints and three periodic jobs.
 */
export default defineService({
  manifest: new URL('../package.json', import.meta.url),
  description: 'Accounts, double-entry ledger, payment channels and task escrow',
  config: paymentConfigSchema,
  prisma: (adapter): PaymentPrisma => new PrismaClient({ adapter }),
  build: async ({ config, prisma, pool, logger, registry, kickOutbox }) => {
    const metrics = createPaymentMetrics(registry);
    const reconciler = createReconciler({ prisma, logger, metrics, kickOutbox });
    return {
      endpoints: paymentRegistrations({ prisma, pool, metrics, reconciler, kickOutbox }),
      jobs: [
        defineJob({
          name: 'reconciliation',
          intervalMs: config.RECONCILIATION_INTERVAL_MS,
          run: () => reconciler.runScheduled(),
        }),
        defineJob({
          name: 'channel-expiry',
          intervalMs: config.CHANNEL_SWEEP_INTERVAL_MS,
          run: async () => {
            const graceMs = config.CHANNEL_EXPIRY_GRACE_SECONDS * 1000;
            if ((await sweepExpiredChannels({ prisma, logger, graceMs })) > 0) kickOutbox();
          },
        }),
        defineJob({
          name: 'housekeeping',
          intervalMs: config.PAYMENT_HOUSEKEEPING_INTERVAL_MS,
          run: () =>
            housekeep({
              prisma,
              pool,
              metrics,
              idempotencyRetentionHours: config.IDEMPOTENCY_RETENTION_HOURS,
            }),
        }),
      ],
      exposed: { reconciler },
    };
  },
});
