import { z } from 'zod';

/** The task service's own settings, read at boot beside the kit's (database, admin port, NATS). */
export const taskConfigSchema = z
  .object({
    /** A submitted result nobody accepted or rejected within this long counts as accepted (SPEC §4.5). */
    TASK_ACCEPTANCE_WINDOW_SECONDS: z.coerce.number().int().min(1).max(2_592_000).default(86_400),
    /** How often one replica looks for timeouts and acceptance windows that passed. */
    TASK_DEADLINE_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),
    /** How often one replica retries saga steps still owed (holds, auctions, captures, refunds). */
    TASK_SAGA_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(2_000),
    /** A task still `pending` this long after creation lost its request; the saga job advances it. */
    TASK_PENDING_RETRY_SECONDS: z.coerce.number().int().min(1).max(3_600).default(10),
    /** How often one replica deletes week-old published outbox rows and processed event ids. */
    TASK_HOUSEKEEPING_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(600_000),
    /**
     * Tests only (refused in production): a folder where a file named after a saga crash point
     * (`before-assign`, `before-capture`) makes the process kill itself with SIGKILL there, once
     * (it removes the file first).
     */
    TASK_CRASH_DIR: z.string().min(1).optional(),
    NODE_ENV: z.string().optional(),
  })
  .refine((config) => config.NODE_ENV !== 'production' || config.TASK_CRASH_DIR === undefined, {
    path: ['TASK_CRASH_DIR'],
    message: 'is for tests only and refused in production',
  });

export type TaskConfig = z.output<typeof taskConfigSchema>;
