import { z } from 'zod';

/**
 * The payment-channel service's own settings, read once from the environment at boot beside the
 * kit's (database, admin port, pool, NATS, logging).
 */
export const paymentConfigSchema = z.object({
  // Capped at a day: Node fires a timer above 2^31-1 ms at once instead of late.
  RECONCILIATION_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(60_000),
  CHANNEL_SWEEP_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(60_000),
  // Parties get this long after expiry to close a channel themselves before the sweep does it.
  CHANNEL_EXPIRY_GRACE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(300),
  PAYMENT_HOUSEKEEPING_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(600_000),
  // The API promises replays for at least 24 hours, so shorter is refused.
  IDEMPOTENCY_RETENTION_HOURS: z.coerce
    .number()
    .int()
    .min(24)
    .max(24 * 90)
    .default(24),
});
