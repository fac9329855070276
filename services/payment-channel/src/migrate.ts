import { migrateService, migrationsDirOf, runMigrate } from '@zerostate/service-kit/migrate';

const manifest = new URL('../package.json', import.meta.url);

/** prisma/payment/migrations, absolute. */
export const paymentMigrationsDir = migrationsDirOf(manifest);

/** Creates the payment database if missing and applies pending migrations; returns the names applied. */
export const migratePaymentDatabase = (connectionString: string) =>
  migrateService(manifest, connectionString);

/** `pnpm --filter @zerostate/payment-channel-service migrate`: reads PAYMENT_DATABASE_URL. */
await runMigrate(manifest, import.meta.url);
