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

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/**
 * Creates the database named in the URL if it does not exist yet. Safe when several processes
 * (replicas, test files) race: losing the race counts as success.
 */
export async function ensureDatabase(connectionString: string): Promise<void> {
  const name = databaseNameOf(connectionString);
  const client = new pg.Client({ connectionString: maintenanceUrlOf(connectionString) });
  await client.connect();
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (existing.rowCount !== 0) return;
    await client.query(`CREATE DATABASE ${quoteIdentifier(name)}`);
  } catch (error) {
    if (!databaseExistsCodes.has(codeOf(error) as string)) throw error;
  } finally {
    await client.end();
  }
}
