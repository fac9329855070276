import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureDatabase, migrate } from '@zerostate/database';
import { createLogger, type Logger } from '@zerostate/observability';

/**
 * The payment-channel migrations folder. Both src/migrate.ts (run by tsx) and dist/migrate.js (after a
 * build) sit two levels under services/payment-channel, so one relative path serves both.
 */
export const paymentMigrationsDir = fileURLToPath(
  new URL('../../../prisma/payment/migrations', import.meta.url),
);

const defaultDatabaseUrl = 'postgresql://postgres@127.0.0.1:5432/zerostate_payment';

/**
 * Creates the payment database if it is missing and applies pending migrations; safe to run from
 * several replicas or a Kubernetes Job at once. Returns the names applied.
 */
export async function migratePaymentDatabase(connectionString: string, logger?: Logger): Promise<string[]> {
  await ensureDatabase(connectionString);
  return migrate({ connectionString, migrationsDir: paymentMigrationsDir, ...(logger ? { logger } : {}) });
}

/** `pnpm --filter @zerostate/payment-channel-service migrate`: reads PAYMENT_DATABASE_URL, exits non-zero on failure. */
async function main(): Promise<void> {
  const logger = createLogger({ service: 'payment-channel-migrate', level: process.env.LOG_LEVEL ?? 'info' });
  const connectionString = process.env.PAYMENT_DATABASE_URL ?? defaultDatabaseUrl;
  try {
    const applied = await migratePaymentDatabase(connectionString, logger);
    logger.info(
      { applied },
      applied.length === 0 ? 'payment database is up to date' : 'payment migrations applied',
    );
  } catch (error) {
    logger.error({ err: error }, 'payment migration failed');
    // exitCode instead of exit(): pino's asynchronous destination flushes before the process ends.
    process.exitCode = 1;
  }
}

const runDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (runDirectly) await main();
