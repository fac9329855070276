import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { generateBusTrust } from '@zerostate/bus';
import { auctionEvents } from '@zerostate/contracts';
import { migrationsDirOf } from '@zerostate/service-kit/migrate';
import {
  createTestDatabase,
  freePort,
  metricTotal,
  type RunningProcess,
  repositoryRoot,
  startNatsServer,
  startProcess,
  type TestDatabase,
  type TestServer,
  waitUntil,
} from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyStoredClearings } from '../src/db/verify-clearings.js';

/**
 * Closing at expiry with real replicas: separate auction-service processes on one database, as
 * in production. docs/AUCTIONS.md "Closing".
 */
let database: TestDatabase;
let nats: TestServer;
let db: pg.Pool;
const running: RunningProcess[] = [];
const trust = generateBusTrust('auction').trustedKeys;

async function replica(): Promise<{ process: RunningProcess; adminUrl: string }> {
  const port = await freePort();
  const process = startProcess('services/auction/src/main.ts', {
    runtime: 'source',
    captureOutput: false,
    env: {
      NODE_ENV: 'test',
      NATS_URL: nats.url,
      AUCTION_DATABASE_URL: database.url,
      AUCTION_ADMIN_PORT: String(port),
      AUCTION_CLOSE_INTERVAL_MS: '50',
      DB_POOL_MAX: '4',
      DB_POOL_MIN_IDLE: '0',
      BUS_TRUSTED_KEYS: trust,
      LOG_LEVEL: 'warn',
    },
  });
  running.push(process);
  const adminUrl = `http://127.0.0.1:${port}`;
  await waitUntil('the replica is ready', async () => (await fetch(`${adminUrl}/ready`)).ok, 60_000);
  return { process, adminUrl };
}

async function agent(): Promise<{ id: string; owner: string }> {
  const id = randomUUID();
  const owner = randomUUID();
  await db.query(
    `INSERT INTO agents (id, did, owner_id, name, capabilities, price_per_task)
     VALUES ($1, $2, $3, 'closer', '{text}', 1000000)`,
    [id, `did:zerostate:agent:${id}`, owner],
  );
  return { id, owner };
}

/** An open auction expiring `inMs` from now, with one bid per given agent (prices in credits). */
async function auction(inMs: number, bids: { agent: { id: string; owner: string }; price: number }[]) {
  const id = randomUUID();
  await db.query(
    `INSERT INTO auctions (id, requester_id, type, capabilities, max_price, timeout_seconds, expires_at)
     VALUES ($1, $2, 'second_price', '{text}', 100000000, 60, now() + $3 * interval '1 millisecond')`,
    [id, randomUUID(), inMs],
  );
  for (const { agent: bidder, price } of bids) {
    await db.query(
      `INSERT INTO bids (id, auction_id, agent_id, owner_id, price, estimated_time_seconds)
       VALUES ($1, $2, $3, $4, $5, 30)`,
      [randomUUID(), id, bidder.id, bidder.owner, price * 1_000_000],
    );
  }
  return id;
}

/** Close events in the outbox for each of `ids`, by subject. */
async function closeEventsOf(ids: string[]): Promise<Map<string, string[]>> {
  const { rows } = await db.query<{ auction_id: string; subject: string }>(
    `SELECT payload->>'auction_id' AS auction_id, subject FROM outbox
     WHERE subject = ANY($1) AND payload->>'auction_id' = ANY($2)`,
    [[auctionEvents.awarded.subject, auctionEvents.expired.subject], ids],
  );
  const events = new Map<string, string[]>();
  for (const row of rows) events.set(row.auction_id, [...(events.get(row.auction_id) ?? []), row.subject]);
  return events;
}

const openCount = async (ids: string[]) =>
  Number(
    (await db.query(`SELECT count(*) FROM auctions WHERE status = 'open' AND id = ANY($1)`, [ids])).rows[0]
      .count,
  );

beforeAll(async () => {
  nats = await startNatsServer({ jetstream: true });
  database = await createTestDatabase({
    name: 'auction_closing',
    migrationsDir: migrationsDirOf(new URL('../package.json', import.meta.url)),
  });
  db = new pg.Pool({ connectionString: database.url, max: 3 });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((process) => process.stop()));
});
afterAll(async () => {
  await db?.end();
  await database?.drop();
  await nats?.stop();
});

describe('closing auctions at expiry', () => {
  it('when two replicas share one database, then 200 auctions each get exactly one award or expiry and every clearing recomputes', async () => {
    const [first, second] = await Promise.all([replica(), replica()]);
    const agents = await Promise.all([agent(), agent(), agent(), agent()]);
    const withBids = new Set<string>();
    const ids: string[] = [];
    for (let index = 0; index < 200; index += 1) {
      const bidders =
        index % 2 === 0
          ? [
              { agent: agents[index % 4]!, price: 40 + (index % 7) },
              { agent: agents[(index + 1) % 4]!, price: 50 },
            ]
          : [];
      const id = await auction(500 + (index % 20) * 100, bidders);
      ids.push(id);
      if (bidders.length > 0) withBids.add(id);
    }

    await waitUntil('every auction closed', async () => (await openCount(ids)) === 0, 60_000);

    const { rows } = await db.query<{ id: string; status: string; winners: string; live: string }>(
      `SELECT a.id::text, a.status,
              count(*) FILTER (WHERE b.status = 'won') AS winners,
              count(*) FILTER (WHERE b.status = 'live') AS live
       FROM auctions a LEFT JOIN bids b ON b.auction_id = a.id WHERE a.id = ANY($1) GROUP BY a.id`,
      [ids],
    );
    expect(rows).toHaveLength(200);
    for (const row of rows) {
      expect(row.status, row.id).toBe(withBids.has(row.id) ? 'awarded' : 'expired');
      expect(Number(row.winners), row.id).toBe(withBids.has(row.id) ? 1 : 0);
      expect(Number(row.live), row.id).toBe(0);
    }
    // None missed, none twice: exactly one close event per auction, of the outcome it has.
    const events = await closeEventsOf(ids);
    expect(events.size).toBe(200);
    for (const id of ids) {
      const subject = withBids.has(id) ? auctionEvents.awarded.subject : auctionEvents.expired.subject;
      expect(events.get(id), id).toEqual([subject]);
    }
    // The replicas' own counts add up to the same 200, split between them however the jobs fell.
    const closedBy = await Promise.all(
      [first, second].map(async ({ adminUrl }) =>
        metricTotal(await (await fetch(`${adminUrl}/metrics`)).text(), 'auction_auctions_closed_total'),
      ),
    );
    expect(closedBy[0]! + closedBy[1]!).toBe(200);

    expect(await verifyStoredClearings(database.url, { ids })).toEqual({ checked: 200, differing: [] });
  }, 120_000);

  it('when a replica is killed in the middle of a close, then nothing of it is kept and another closes the auction once', async () => {
    const bidders = [await agent(), await agent()];
    const id = await auction(1_000, [
      { agent: bidders[0]!, price: 45 },
      { agent: bidders[1]!, price: 50 },
    ]);
    // Hold the bids' rows: the replica's close takes the auction's row, writes the award, then
    // waits here for the bids, inside its transaction.
    const blocker = await db.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT id FROM bids WHERE auction_id = $1 FOR UPDATE', [id]);
      const doomed = await replica();
      await waitUntil(
        'the replica is mid-close, waiting on the bids',
        async () =>
          Number(
            (
              await db.query(
                `SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%bids%'`,
              )
            ).rows[0].count,
          ) > 0,
      );
      doomed.process.child.kill('SIGKILL');
      await new Promise((resolve) => doomed.process.child.once('exit', resolve));
      await blocker.query('ROLLBACK');
    } finally {
      blocker.release();
    }
    // Its backend notices the dead client when it next writes, and rolls the close back.
    await waitUntil(
      'the dead replica’s transaction is gone',
      async () =>
        Number(
          (
            await db.query(
              `SELECT count(*) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`,
            )
          ).rows[0].count,
        ) === 0,
    );
    const half = await db.query(
      `SELECT a.status, a.closed_at, a.clearing, array_agg(b.status ORDER BY b.price) AS bids
       FROM auctions a JOIN bids b ON b.auction_id = a.id WHERE a.id = $1 GROUP BY a.id`,
      [id],
    );
    expect(half.rows[0]).toEqual({ status: 'open', closed_at: null, clearing: null, bids: ['live', 'live'] });
    expect((await closeEventsOf([id])).size).toBe(0);

    await replica();
    await waitUntil('another replica closes it', async () => (await openCount([id])) === 0, 30_000);
    expect((await closeEventsOf([id])).get(id)).toEqual([auctionEvents.awarded.subject]);
    const closed = await db.query(
      `SELECT a.status, array_agg(b.status ORDER BY b.price) AS bids
       FROM auctions a JOIN bids b ON b.auction_id = a.id WHERE a.id = $1 GROUP BY a.id`,
      [id],
    );
    expect(closed.rows[0]).toEqual({ status: 'awarded', bids: ['won', 'lost'] });
  }, 120_000);

  it('when `pnpm verify-clearings` runs, then it passes stored clearings and names an altered award', async () => {
    const bidders = [await agent(), await agent()];
    const id = await auction(0, [
      { agent: bidders[0]!, price: 45 },
      { agent: bidders[1]!, price: 50 },
    ]);
    await replica();
    await waitUntil('it closes', async () => (await openCount([id])) === 0, 30_000);
    const verify = () =>
      promisify(execFile)('pnpm', ['--silent', 'verify-clearings', id], {
        cwd: repositoryRoot,
        env: { ...process.env, AUCTION_DATABASE_URL: database.url },
      }).then(
        ({ stdout }) => ({ code: 0, stdout }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      );
    expect(await verify()).toEqual({ code: 0, stdout: '1 clearings checked, 0 differ\n' });

    await db.query('UPDATE auctions SET price = price + 1 WHERE id = $1', [id]);
    const altered = await verify();
    expect(altered.code).toBe(1);
    const [report, summary] = altered.stdout.trim().split('\n');
    expect(JSON.parse(report!)).toMatchObject({
      auctionId: id,
      status: 'awarded',
      differences: [{ path: 'award.price' }],
    });
    expect(summary).toBe('1 clearings checked, 1 differ');
  }, 120_000);
});
