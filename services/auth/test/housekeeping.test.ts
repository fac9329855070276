import { randomBytes, randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import { loadConfig } from '@zerostate/config';
import { authEndpoints } from '@zerostate/contracts';
import { createLogger, createRegistry, type Logger, type Registry } from '@zerostate/observability';
import { startJobs } from '@zerostate/service-kit';
import { captureLines, createTestDatabase, type TestDatabase, waitUntil } from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authConfigSchema } from '../src/config.js';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { createHousekeeping } from '../src/housekeeping.js';
import { goodPassword, type Harness, metricValue, startHarness, uniqueEmail } from './harness.js';

const metricName = 'auth_housekeeping_deleted_rows_total';
const migrationsDir = fileURLToPath(new URL('../../../prisma/auth/migrations', import.meta.url));
/** Long enough that no timed run starts while a test drives run() itself. */
const idleIntervalMs = 600_000;

type LogLine = { level: string; message: string } & Record<string, unknown>;

/** A real pino logger whose JSON lines are kept for assertions. */
function capturingLogger(): { logger: Logger; lines: LogLine[] } {
  const { destination, entries: lines } = captureLines<LogLine>();
  return { logger: createLogger({ service: 'auth', level: 'info', destination }), lines };
}

const housekeepingLines = (lines: LogLine[]) =>
  lines.filter((line) => line.message.startsWith('housekeeping'));

async function ids(db: pg.Pool, table: 'refresh_tokens' | 'outbox'): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>(`SELECT id::text FROM ${table}`);
  return new Set(rows.map((row) => row.id));
}

/** Inserts an outbox row that occurred 30 days ago and was published `publishedDaysAgo` ago (null: never). */
async function insertOutboxRow(db: pg.Pool, publishedDaysAgo: number | null): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO outbox (id, subject, payload, occurred_at, published_at)
     VALUES ($1, 'evt.auth.housekeeping.tested', '{}', now() - interval '30 days',
             now() - $2::double precision * interval '1 day')`,
    [id, publishedDaysAgo],
  );
  return id;
}

describe('housekeeping against the auth service database', () => {
  let harness: Harness;
  let prisma: PrismaClient;

  beforeAll(async () => {
    harness = await startHarness({
      name: 'auth_housekeeping',
      env: { AUTH_HOUSEKEEPING_INTERVAL_MS: String(idleIntervalMs) },
    });
    // On the harness's pool, which the harness ends; $disconnect leaves a pool it was given open.
    prisma = new PrismaClient({ adapter: new PrismaPg(harness.db) });
  });

  afterAll(async () => {
    await prisma?.$disconnect();
    await harness?.stop();
  });

  function start(options: { logger?: Logger; batchSize?: number; maxBatchesPerRun?: number } = {}) {
    const registry = createRegistry('auth');
    const housekeeping = createHousekeeping({
      prisma,
      pool: harness.db,
      logger: options.logger ?? createLogger({ service: 'auth', level: 'silent' }),
      registry,
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      ...(options.maxBatchesPerRun === undefined ? {} : { maxBatchesPerRun: options.maxBatchesPerRun }),
    });
    return { housekeeping, registry };
  }

  /** Registers a user (which stores one refresh token) and moves its token's expiry by `expiresIn`. */
  async function userWithToken(expiresIn: string): Promise<string> {
    const session = await harness.call(authEndpoints.register, {
      email: uniqueEmail('hk'),
      password: goodPassword,
    });
    await harness.db.query(`UPDATE refresh_tokens SET expires_at = now() + $2::interval WHERE user_id = $1`, [
      session.user.id,
      expiresIn,
    ]);
    return session.user.id;
  }

  async function tokenIdsOf(userId: string): Promise<string[]> {
    const { rows } = await harness.db.query<{ id: string }>(
      'SELECT id::text FROM refresh_tokens WHERE user_id = $1',
      [userId],
    );
    return rows.map((row) => row.id);
  }

  it('when a run finds long-expired tokens and week-old published events, then exactly those go and are counted', async () => {
    const expiredLongAgo = await tokenIdsOf(await userWithToken('-2 days'));
    await userWithToken('-1 hour');
    await userWithToken('7 days');
    const oldPublished = [await insertOutboxRow(harness.db, 8), await insertOutboxRow(harness.db, 10)];
    await insertOutboxRow(harness.db, 6);
    await insertOutboxRow(harness.db, null);
    const tokensBefore = await ids(harness.db, 'refresh_tokens');
    const outboxBefore = await ids(harness.db, 'outbox');
    const { logger, lines } = capturingLogger();
    const { housekeeping, registry } = start({ logger });

    const counts = await housekeeping.run();

    expect(expiredLongAgo).toHaveLength(1);
    expect(counts).toEqual({ refreshTokens: 1, outbox: 2, processedEvents: 0 });
    const expectedTokens = [...tokensBefore].filter((id) => !expiredLongAgo.includes(id));
    expect(await ids(harness.db, 'refresh_tokens')).toEqual(new Set(expectedTokens));
    const expectedOutbox = [...outboxBefore].filter((id) => !oldPublished.includes(id));
    expect(await ids(harness.db, 'outbox')).toEqual(new Set(expectedOutbox));
    expect(await metricValue(registry, metricName, { table: 'refresh_tokens' })).toBe(1);
    expect(await metricValue(registry, metricName, { table: 'outbox' })).toBe(2);
    expect(housekeepingLines(lines)).toEqual([
      expect.objectContaining({
        level: 'info',
        refresh_tokens_deleted: 1,
        outbox_deleted: 2,
        duration_ms: expect.any(Number),
      }),
    ]);

    expect(await housekeeping.run()).toEqual({ refreshTokens: 0, outbox: 0, processedEvents: 0 });
    expect(await metricValue(registry, metricName, { table: 'refresh_tokens' })).toBe(1);
    expect(await metricValue(registry, metricName, { table: 'outbox' })).toBe(2);
  });

  it('when more rows qualify than one run may delete, then each run stops at its cap and the next continues', async () => {
    for (let index = 0; index < 5; index += 1) await userWithToken('-3 days');
    for (let index = 0; index < 3; index += 1) await insertOutboxRow(harness.db, 9);
    const { housekeeping, registry } = start({ batchSize: 2, maxBatchesPerRun: 2 });

    const runs = [await housekeeping.run(), await housekeeping.run(), await housekeeping.run()];

    expect(runs).toEqual([
      { refreshTokens: 4, outbox: 3, processedEvents: 0 },
      { refreshTokens: 1, outbox: 0, processedEvents: 0 },
      { refreshTokens: 0, outbox: 0, processedEvents: 0 },
    ]);
    expect(await metricValue(registry, metricName, { table: 'refresh_tokens' })).toBe(5);
  });
});

describe('housekeeping failures and stop', () => {
  let database: TestDatabase;
  let db: pg.Pool;
  let prisma: PrismaClient;

  beforeAll(async () => {
    database = await createTestDatabase({ name: 'auth_housekeeping_faults', migrationsDir });
    db = new pg.Pool({ connectionString: database.url, max: 4 });
    // pool.end() resolves before its sockets close; the forced DROP DATABASE then terminates
    // them, and an 'error' event without a listener would be an uncaught exception.
    db.on('error', () => undefined);
    prisma = new PrismaClient({ adapter: new PrismaPg(db) });
  });

  afterAll(async () => {
    await prisma?.$disconnect();
    await db?.end();
    await database?.drop();
  });

  /** Inserts a user with one refresh token that expired `daysAgo` days ago. */
  async function expiredToken(daysAgo: number): Promise<void> {
    const userId = randomUUID();
    await db.query(
      `INSERT INTO users (id, email, password_hash, did, updated_at) VALUES ($1, $2, 'x', $3, now())`,
      [userId, `${userId}@example.com`, `did:zerostate:user:${userId}`],
    );
    await db.query(
      `INSERT INTO refresh_tokens (id, user_id, token_hash, family_id, expires_at)
       VALUES (gen_random_uuid(), $1, $2, gen_random_uuid(), now() - $3::double precision * interval '1 day')`,
      [userId, randomBytes(32).toString('hex'), daysAgo],
    );
  }

  /** Housekeeping as the service runs it: a kit job, here every `intervalMs`. */
  async function startJob(logger: Logger, intervalMs: number, registry: Registry) {
    const housekeeping = createHousekeeping({ prisma, pool: db, logger, registry });
    const job = { name: 'housekeeping', intervalMs, run: (signal: AbortSignal) => housekeeping.run(signal) };
    return startJobs({ pool: db, jobs: [job], logger, registry });
  }

  it('when a run fails, then it is logged as a warning and the next interval retries it', async () => {
    await expiredToken(3);
    const outboxId = await insertOutboxRow(db, 8);
    await db.query('ALTER TABLE outbox RENAME TO outbox_parked');
    const { logger, lines } = capturingLogger();
    const registry = createRegistry('auth');
    const housekeeping = await startJob(logger, 50, registry);
    try {
      await waitUntil('a failed run', async () => lines.some((line) => line.level === 'warn'));
      await db.query('ALTER TABLE outbox_parked RENAME TO outbox');
      await waitUntil('a successful run', async () => lines.some((line) => line.level === 'info'));
    } finally {
      await housekeeping.stop();
      await db.query('ALTER TABLE IF EXISTS outbox_parked RENAME TO outbox');
    }

    const [failed] = housekeepingLines(lines);
    expect(failed).toMatchObject({ level: 'warn', refresh_tokens_deleted: 1, outbox_deleted: 0 });
    expect(housekeepingLines(lines).find((line) => line.level === 'info')).toMatchObject({
      outbox_deleted: 1,
    });
    expect(await ids(db, 'outbox')).not.toContain(outboxId);
    expect(await metricValue(registry, metricName, { table: 'refresh_tokens' })).toBe(1);
    expect(await metricValue(registry, metricName, { table: 'outbox' })).toBe(1);
  });

  it('when its signal aborts during a run, then the run ends after its current batch and later runs delete nothing', async () => {
    await expiredToken(5);
    await insertOutboxRow(db, 9);
    const blocker = await db.connect();
    let stopped = false;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE refresh_tokens IN ACCESS EXCLUSIVE MODE');
      const housekeeping = createHousekeeping({
        prisma,
        pool: db,
        logger: createLogger({ service: 'auth', level: 'silent' }),
        registry: createRegistry('auth'),
      });
      const abort = new AbortController();
      const run = housekeeping.run(abort.signal);
      await waitUntil('the delete to wait on the lock', async () => {
        const { rows } = await db.query(
          `SELECT 1 FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%DELETE FROM refresh_tokens%'`,
        );
        return rows.length > 0;
      });
      abort.abort();
      const ended = run.then(() => {
        stopped = true;
      });
      for (let turn = 0; turn < 20; turn += 1) await yieldToEventLoop();
      expect(stopped).toBe(false);

      await blocker.query('COMMIT');
      await ended;

      expect(await run).toEqual({ refreshTokens: 1, outbox: 0, processedEvents: 0 });
      await insertOutboxRow(db, 9);
      expect(await housekeeping.run(abort.signal)).toEqual({
        refreshTokens: 0,
        outbox: 0,
        processedEvents: 0,
      });
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      blocker.release();
    }
  });
});

describe('housekeeping inside the auth service', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({
      name: 'auth_housekeeping_wired',
      env: { AUTH_HOUSEKEEPING_INTERVAL_MS: '1000' },
    });
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it('when the service runs, then its timed housekeeping deletes a long-expired token and counts it', async () => {
    const session = await harness.call(authEndpoints.register, {
      email: uniqueEmail('wired'),
      password: goodPassword,
    });
    await harness.db.query(
      "UPDATE refresh_tokens SET expires_at = now() - interval '2 days' WHERE user_id = $1",
      [session.user.id],
    );

    await waitUntil('the timed run to delete the token', async () => {
      const { rows } = await harness.db.query('SELECT 1 FROM refresh_tokens WHERE user_id = $1', [
        session.user.id,
      ]);
      return rows.length === 0;
    });

    expect(await metricValue(harness.registry, metricName, { table: 'refresh_tokens' })).toBe(1);
  });
});

describe('the housekeeping interval setting', () => {
  const key = randomBytes(32).toString('base64');

  it('when it is not set, then runs are ten minutes apart', () => {
    expect(loadConfig(authConfigSchema, { AUTH_KEY_ENCRYPTION_KEY: key }).AUTH_HOUSEKEEPING_INTERVAL_MS).toBe(
      600_000,
    );
  });

  it('when it is below one second, then the configuration is refused naming it', () => {
    expect(() =>
      loadConfig(authConfigSchema, { AUTH_KEY_ENCRYPTION_KEY: key, AUTH_HOUSEKEEPING_INTERVAL_MS: '999' }),
    ).toThrow(/AUTH_HOUSEKEEPING_INTERVAL_MS/);
  });
});
