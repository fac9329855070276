import { randomUUID } from 'node:crypto';
import { migrationsDirOf } from '@zerostate/service-kit/migrate';
import { createTestDatabase, type TestDatabase } from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BidDecision, placeBid } from '../src/db/bids.js';

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
afterAll(async () => {
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
