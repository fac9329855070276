import { ensureDatabase, migrate } from '@zerostate/database';
import pg from 'pg';
import { uniqueName } from './names.js';

/** The shared test Postgres (trust auth); every test database lives there under its own name. */
const serverUrl = 'postgresql://postgres@127.0.0.1:5432';

/** Postgres truncates identifiers beyond 63 bytes; keep room for the prefix and random suffix. */
const nameLengthMax = 40;

export interface TestDatabase {
  /** Connection URL of the new, migrated database. */
  url: string;
  /** Ends every connection to it (a pool the test forgot included) and drops it. */
  drop(): Promise<void>;
}

function sanitize(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .slice(0, nameLengthMax);
}

/**
 * Creates `zs_test_<name>_<random>` on the shared Postgres and applies the given Prisma
 * migrations folder to it, exactly as a service's migrate command would.
 */
export async function createTestDatabase(options: {
  name: string;
  migrationsDir: string;
}): Promise<TestDatabase> {
  const databaseName = uniqueName(`zs_test_${sanitize(options.name)}`);
  const url = `${serverUrl}/${databaseName}`;
  await ensureDatabase(url);
  const drop = async () => {
    const client = new pg.Client({ connectionString: `${serverUrl}/postgres` });
    await client.connect();
    try {
      // A pool's end() resolves before its connections have closed; give those a moment to go,
      // so that terminating them does not surface as an error in the test that ended them.
      for (let waited = 0; waited < 1_000; waited += 20) {
        const { rows } = await client.query(
          'SELECT count(*)::int AS sessions FROM pg_stat_activity WHERE datname = $1',
          [databaseName],
        );
        if (rows[0].sessions === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // WITH (FORCE) terminates the sessions still connected before dropping (Postgres 13+).
      await client.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
  };
  try {
    await migrate({ connectionString: url, migrationsDir: options.migrationsDir });
  } catch (error) {
    await drop();
    throw error;
  }
  return { url, drop };
}

/** Runs one SQL text on its own connection (for setting up or breaking a scratch database). */
export async function runSql(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
