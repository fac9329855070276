import { AppError } from '@zerostate/errors';
import pg from 'pg';

/** Postgres SQLSTATEs raised when a database another session created first already exists. */
const databaseExistsCodes = new Set([
  '42P04', // duplicate_database
  '23505', // unique_violation on pg_database, when two CREATE DATABASE race
]);

/** Quotes an identifier for SQL text (CREATE/DROP DATABASE take no bind parameters). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The database named in a connection URL. */
export function databaseNameOf(connectionString: string): string {
  const name = decodeURIComponent(new URL(connectionString).pathname.replace(/^\//, ''));
  if (name.length === 0) {
    throw new AppError('INTERNAL', 'The database URL names no database.');
  }
  return name;
}

/** The same server and credentials, but the `postgres` maintenance database. */
export function maintenanceUrlOf(connectionString: string): string {
  const url = new URL(connectionString);
  url.pathname = '/postgres';
  return url.toString();
}

/** SQLSTATE invalid_catalog_name: the server has no database of that name. */
const databaseMissingCode = '3D000';

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/** Connects to the named database and disconnects: true if it exists, false on 3D000. */
async function databaseExists(connectionString: string): Promise<boolean> {
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
  } catch (error) {
    if (codeOf(error) === databaseMissingCode) return false;
    throw error;
  }
  await client.end();
  return true;
}

async function createDatabase(connectionString: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: maintenanceUrlOf(connectionString) });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  } catch (error) {
    if (!databaseExistsCodes.has(codeOf(error) as string)) throw error;
  } finally {
    await client.end();
  }
}

/**
 * Creates the database named in the URL if it does not exist yet. It connects to that database
 * first and touches the `postgres` maintenance database only when the server answers 3D000
 * (no such database), because managed Postgres servers often refuse connections to `postgres`
 * while the service's own database, created by the operator, is all a deployment needs. Safe when
 * several processes (replicas, test files) race: losing the race to create counts as success.
 */
export async function ensureDatabase(connectionString: string): Promise<void> {
  const name = databaseNameOf(connectionString);
  if (await databaseExists(connectionString)) return;
  await createDatabase(connectionString, name);
}
