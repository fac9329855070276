import { z } from 'zod';

/** The reputation service's own settings, read at boot beside the kit's (database, admin port, NATS). */
export const reputationConfigSchema = z.object({
  // Capped at a day: Node fires a timer above 2^31-1 ms at once instead of late.
  /** How often stored scores are brought up to date with decay (the leaderboard and the feed). */
  REPUTATION_DECAY_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(600_000),
  /** A stored score computed longer ago than this is recomputed by the decay job. */
  REPUTATION_DECAY_AGE_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .max(7 * 86_400_000)
    .default(3_600_000),
  /** Agents rescored per decay run, at most. */
  REPUTATION_DECAY_BATCH: z.coerce.number().int().min(1).max(100_000).default(1_000),
  REPUTATION_HOUSEKEEPING_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(600_000),
});
export type ReputationConfig = z.output<typeof reputationConfigSchema>;
