import { fileURLToPath, pathToFileURL } from 'node:url';
import { readServiceDescription } from '@zerostate/config';
import { ensureDatabase, migrate } from '@zerostate/database';
import { createLogger, type Logger } from '@zerostate/observability';

/**
 * A service's migrations folder, absolute. The repository root is two folders above the
 * service's package.json, in a checkout and in the image alike (`/app/services/<name>`, `/app/prisma`).
 */
export function migrationsDirOf(manifest: URL): string {
  const { migrationsFolder } = readServiceDescription(fileURLToPath(manifest));
  return fileURLToPath(new URL(`../../${migrationsFolder}`, manifest));
}

/**
 * Creates the service's database if it is missing and applies pending migrations; safe to run
 * from several replicas or a Kubernetes Job at once. Returns the names applied.
 */
export async function migrateService(
  manifest: URL,
  connectionString: string,
  logger?: Logger,
): Promise<string[]> {
  await ensureDatabase(connectionString);
  return migrate({
    connectionString,
    migrationsDir: migrationsDirOf(manifest),
    ...(logger ? { logger } : {}),
  });
}

/**
 * The body of a service's migrate.ts: reads `<BUS>_DATABASE_URL` (the development database by
 * default), migrates, and sets a non-zero exit code on failure. Runs only when `entry` (the
 * caller's `import.meta.url`) is the script node was started with, so tests may import it.
 */
export async function runMigrate(manifest: URL, entry: string): Promise<void> {
  if (process.argv[1] === undefined || entry !== pathToFileURL(process.argv[1]).href) return;
  const service = readServiceDescription(fileURLToPath(manifest));
  const logger = createLogger({ service: `${service.name}-migrate`, level: process.env.LOG_LEVEL ?? 'info' });
  const connectionString =
    process.env[service.databaseVariable] ?? `postgresql://postgres@127.0.0.1:5432/${service.databaseName}`;
  try {
    const applied = await migrateService(manifest, connectionString, logger);
    logger.info({ applied }, applied.length === 0 ? 'database is up to date' : 'migrations applied');
  } catch (error) {
    logger.error({ err: error }, 'migration failed');
    // exitCode instead of exit(): pino's asynchronous destination flushes before the process ends.
    process.exitCode = 1;
  }
}
