import { randomUUID } from 'node:crypto';
import { migrationsDirOf } from '@zerostate/service-kit/migrate';
import { createTestDatabase, type TestDatabase } from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BidDecision, BidReadCache, placeBid } from '../src/db/bids.js';

/**
 * The bid write against Postgres, with what can happen between its read and its write forced
 * into that gap through `decide` (which runs exactly there). docs/AUCTIONS.md "Bids".
 */
let database: TestDatabase;
let db: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase({
    name: 'auction_bid_write',
    migrationsDir: migrationsDirOf(new URL('../package.json', import.meta.url)),
  });
  db = new pg.Pool({ connectionString: database.url, max: 6 });
});
/** Pools made by `recording`, ended before the database goes. */
const recordingPools: pg.Pool[] = [];
afterAll(async () => {
  await Promise.all(recordingPools.map((pool) => pool.end()));
  await db?.end();
  await database?.drop();
});

async function agent(): Promise<{ id: string; owner: string }> {
  const id = randomUUID();
  const owner = randomUUID();
  await db.query(
    `INSERT INTO agents (id, did, owner_id, name, capabilities, price_per_task, status)
     VALUES ($1, $2, $3, 'bidder', '{text}', 1000000, 'online')`,
    [id, `did:zerostate:agent:${id}`, owner],
  );
  return { id, owner };
}

async function auction(): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO auctions (id, requester_id, type, capabilities, max_price, timeout_seconds, expires_at)
     VALUES ($1, $2, 'second_price', '{text}', 100000000, 60, now() + interval '1 minute')`,
    [id, randomUUID()],
  );
  return id;
}

const liveBids = async (auctionId: string) =>
  (
    await db.query<{ price: string }>(
      `SELECT price::text FROM bids WHERE auction_id = $1 AND status = 'live'`,
      [auctionId],
    )
  ).rows.map((row) => Number(row.price));

const outboxCount = async () => Number((await db.query('SELECT count(*) FROM outbox')).rows[0].count);

const attemptOf = (auctionId: string, bidder: { id: string; owner: string }, price: number) => ({
  auctionId,
  agentId: bidder.id,
  ownerId: bidder.owner,
  price: BigInt(price),
  estimatedTimeSeconds: 30,
});

/** Refuses like the handler does when the agent is not online. */
const refuseOffline: BidDecision = (_auction, agent) => {
  if (agent?.status !== 'online') throw new Error(`AGENT_UNAVAILABLE (${agent?.status})`);
};

describe('placing a bid', () => {
  it('when the agent is deactivated between the decision and the write, then the bid is decided again on the new row and refused', async () => {
    const bidder = await agent();
    const auctionId = await auction();
    const seen: string[] = [];
    const outboxBefore = await outboxCount();

    const placing = placeBid(db, attemptOf(auctionId, bidder, 40_000_000), async (auctionRow, agentRow) => {
      seen.push(agentRow?.status ?? 'none');
      // The first decision is on the online agent; before its write lands, the agent goes offline.
      if (seen.length === 1)
        await db.query(`UPDATE agents SET status = 'offline' WHERE id = $1`, [bidder.id]);
      else await refuseOffline(auctionRow, agentRow);
    });

    await expect(placing).rejects.toThrow('AGENT_UNAVAILABLE (offline)');
    expect(seen).toEqual(['online', 'offline']);
    expect(await liveBids(auctionId)).toEqual([]);
    expect(await outboxCount()).toBe(outboxBefore);
  });

  it('when the auction closes between the decision and the write, then nothing is written and the answer is closed', async () => {
    const bidder = await agent();
    const auctionId = await auction();
    const outcome = await placeBid(db, attemptOf(auctionId, bidder, 40_000_000), async () => {
      await db.query(`UPDATE auctions SET status = 'expired', closed_at = now() WHERE id = $1`, [auctionId]);
    });
    expect(outcome.kind).toBe('closed');
    expect(await liveBids(auctionId)).toEqual([]);
  });

  it('when another bid of the same agent lands between the decision and the write, then this one replaces it and only it stays live', async () => {
    const bidder = await agent();
    const auctionId = await auction();
    let decisions = 0;
    const outcome = await placeBid(db, attemptOf(auctionId, bidder, 41_000_000), async () => {
      decisions += 1;
      // Its read saw no live bid; a rival bid of the same agent commits before its write. (A
      // decision holding the agent's row lock here would wait for ever on the rival.)
      if (decisions === 1) await placeBid(db, attemptOf(auctionId, bidder, 42_000_000), () => undefined);
    });
    expect(outcome.kind).toBe('placed');
    expect(await liveBids(auctionId)).toEqual([41_000_000]);
  });

  it('when forty bids of one agent race, then all are placed and exactly one stays live', async () => {
    const bidder = await agent();
    const auctionId = await auction();
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        placeBid(db, attemptOf(auctionId, bidder, 10_000_000 + index), () => undefined),
      ),
    );
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(Array(40).fill('placed'));
    expect(await liveBids(auctionId)).toHaveLength(1);
    const { rows } = await db.query(`SELECT count(*) FROM bids WHERE auction_id = $1`, [auctionId]);
    expect(Number(rows[0].count)).toBe(40);
  });
});

/** A pool of its own that notes the statements it is asked to run, by name. */
function recording(): { pool: pg.Pool; names: string[] } {
  const names: string[] = [];
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  recordingPools.push(pool);
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  Object.assign(pool, {
    query: (...args: unknown[]) => {
      const config = args[0] as string | { name?: string; text: string };
      names.push(typeof config === 'string' ? config : (config.name ?? config.text));
      return query(...args);
    },
  });
  return { pool, names };
}

const seenReputation =
  (seen: number[]): BidDecision =>
  (_auction, agent) => {
    seen.push(agent!.reputation);
  };

describe('placing a bid on remembered rows (BidReadCache)', () => {
  it('when the same agent bids again into the same auction, then only the write runs and the bid replaces the last', async () => {
    const bidder = await agent();
    const auctionId = await auction();
    const cache = new BidReadCache();
    const { pool, names } = recording();
    await placeBid(pool, attemptOf(auctionId, bidder, 40_000_000), () => undefined, cache);
    expect(names).toEqual(['auction_bid_read', 'auction_bid_write']);
    names.length = 0;
    const outcome = await placeBid(pool, attemptOf(auctionId, bidder, 39_000_000), () => undefined, cache);
    expect(outcome.kind).toBe('placed');
    expect(names).toEqual(['auction_bid_write']);
    expect(await liveBids(auctionId)).toEqual([39_000_000]);
  });

  it('when the agent is deactivated after its rows were remembered, then the next bid is decided on the new row and refused', async () => {
    const bidder = await agent();
    const auctionId = await auction();
    const cache = new BidReadCache();
    await placeBid(db, attemptOf(auctionId, bidder, 40_000_000), refuseOffline, cache);
    await db.query(`UPDATE agents SET status = 'offline' WHERE id = $1`, [bidder.id]);
    await expect(
      placeBid(db, attemptOf(auctionId, bidder, 39_000_000), refuseOffline, cache),
    ).rejects.toThrow('AGENT_UNAVAILABLE (offline)');
    expect(await liveBids(auctionId)).toEqual([40_000_000]);
  });

  it('when the agent is scored after its rows were remembered, then the next bid is decided on the new score', async () => {
    const bidder = await agent();
    const auctionId = await auction();
    const cache = new BidReadCache();
    const seen: number[] = [];
    await placeBid(db, attemptOf(auctionId, bidder, 40_000_000), seenReputation(seen), cache);
    await db.query(
      `INSERT INTO agent_scores (agent_id, overall_hundredths, quality_hundredths, version, updated_at)
       VALUES ($1, 8100, 7000, 1, now())`,
      [bidder.id],
    );
    await placeBid(db, attemptOf(auctionId, bidder, 39_000_000), seenReputation(seen), cache);
    await placeBid(db, attemptOf(auctionId, bidder, 38_000_000), seenReputation(seen), cache);
    // Decided on the remembered 50 first (its write found the score changed), then on 81, then on
    // the rows remembered again.
    expect(seen).toEqual([50, 50, 81, 81]);
    expect(await liveBids(auctionId)).toEqual([38_000_000]);
  });

  it('when the auction is canceled after its rows were remembered, then the next bid is answered closed and nothing is written', async () => {
    const bidder = await agent();
    const auctionId = await auction();
    const cache = new BidReadCache();
    await placeBid(db, attemptOf(auctionId, bidder, 40_000_000), () => undefined, cache);
    await db.query(`UPDATE auctions SET status = 'canceled', closed_at = now() WHERE id = $1`, [auctionId]);
    const outboxBefore = await outboxCount();
    const outcome = await placeBid(db, attemptOf(auctionId, bidder, 39_000_000), () => undefined, cache);
    expect(outcome.kind).toBe('closed');
    expect(await liveBids(auctionId)).toEqual([40_000_000]);
    expect(await outboxCount()).toBe(outboxBefore);
  });

  it('when the remembered rows would refuse, then the refusal comes from a fresh read', async () => {
    const bidder = await agent();
    const auctionId = await auction();
    const cache = new BidReadCache();
    const { pool, names } = recording();
    await placeBid(pool, attemptOf(auctionId, bidder, 40_000_000), () => undefined, cache);
    names.length = 0;
    await expect(
      placeBid(
        pool,
        attemptOf(auctionId, bidder, 39_000_000),
        () => {
          throw new Error('refused');
        },
        cache,
      ),
    ).rejects.toThrow('refused');
    expect(names).toEqual(['auction_bid_read']);
  });

  it('when twenty re-bids of one agent race on remembered rows, then all are placed and exactly one stays live', async () => {
    const bidder = await agent();
    const auctionId = await auction();
    const cache = new BidReadCache();
    await placeBid(db, attemptOf(auctionId, bidder, 50_000_000), () => undefined, cache);
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        placeBid(db, attemptOf(auctionId, bidder, 20_000_000 + index), () => undefined, cache),
      ),
    );
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(Array(20).fill('placed'));
    expect(await liveBids(auctionId)).toHaveLength(1);
  });

  it('when the remembered rows are older than its maximum age, then the bid reads them afresh', async () => {
    const bidder = await agent();
    const auctionId = await auction();
    let now = Date.now();
    const cache = new BidReadCache(10, 60_000, () => now);
    const { pool, names } = recording();
    await placeBid(pool, attemptOf(auctionId, bidder, 40_000_000), () => undefined, cache);
    now += 60_001;
    names.length = 0;
    await placeBid(pool, attemptOf(auctionId, bidder, 39_000_000), () => undefined, cache);
    expect(names).toEqual(['auction_bid_read', 'auction_bid_write']);
  });

  it('when more auctions and agents are seen than it holds, then the oldest are forgotten', () => {
    const cache = new BidReadCache(2);
    const grounds = (ownerId: string) => ({
      auction: {
        status: 'open' as const,
        expiresAt: new Date(Date.now() + 60_000),
        requesterId: randomUUID(),
        capabilities: ['text'],
        maxPrice: 100n,
        reservePrice: null,
        minReputation: 0,
        timeoutSeconds: 60,
      },
      agent: { id: randomUUID(), ownerId, status: 'online' as const, capabilities: ['text'], reputation: 50 },
      agentVersion: '1',
      reputationHundredths: 5_000,
    });
    const attempts = [1, 2, 3].map(() => ({
      ...attemptOf(randomUUID(), { id: randomUUID(), owner: randomUUID() }, 1),
    }));
    for (const attempt of attempts) cache.remember(attempt, grounds(attempt.ownerId));
    expect(cache.grounds(attempts[0]!)).toBeUndefined();
    expect(cache.grounds(attempts[1]!)).toBeDefined();
    expect(cache.grounds(attempts[2]!)).toBeDefined();
  });
});
