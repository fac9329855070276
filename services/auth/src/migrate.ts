import { migrateService, migrationsDirOf, runMigrate } from '@zerostate/service-kit/migrate';

const manifest = new URL('../package.json', import.meta.url);

/** prisma/auth/migrations, absolute. */
export const authMigrationsDir = migrationsDirOf(manifest);

/** Creates the auth database if missing and applies pending migrations; returns the names applied. */
export const migrateAuthDatabase = (connectionString: string) => migrateService(manifest, connectionString);

/** `pnpm --filter @zerostate/auth-service migrate`: reads AUTH_DATABASE_URL. */
await runMigrate(manifest, import.meta.url);
