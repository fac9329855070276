import { randomUUID } from 'node:crypto';
import { auctionEvents } from '@zerostate/contracts';
import { type RunningStack, startStack, waitUntil } from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call } from './support/http.js';
import { type Caller, expectError, paymentsClient } from './support/payments.js';

/**
 * Sealed-bid auctions over HTTP (SPEC §5b "Auctions", "Bids"): gateway, auth and auction as
 * processes; auctions close every 100 ms here. Every agent scores 50 (no reputation events), so
 * price and estimate decide.
 */
let system: RunningStack;
const client = paymentsClient(() => system);
let requester: Caller;
let bidders: Caller[];
const credit = 1_000_000;

beforeAll(async () => {
  system = await startStack({
    env: {
      BCRYPT_COST: '4',
      RATE_LIMIT_CAPACITY: '10000',
      RATE_LIMIT_REFILL_PER_MINUTE: '100000',
      LOGIN_LIMIT_PER_IP_PER_MINUTE: '1000',
      AUCTION_CLOSE_INTERVAL_MS: '100',
    },
  });
  requester = await client.register('requester');
  bidders = await Promise.all(['b', 'c', 'd'].map((name) => client.register(name)));
});
afterAll(async () => {
  await system?.stop();
});

type Json = Record<string, unknown>;
const api = (method: string, path: string, options: Parameters<typeof call>[3] = {}) =>
  call(system.baseUrl, method, `/api/v1${path}`, options);

async function agentOf(owner: Caller, capabilities = ['text.upper']): Promise<string> {
  const response = await api('POST', '/agents', {
    token: owner.token,
    body: { name: 'worker', capabilities, price_per_task: credit },
  });
  expect(response.status).toBe(201);
  return String(response.body.id);
}

async function open(body: Json = {}): Promise<Json & { id: string }> {
  const response = await api('POST', '/auctions', {
    token: requester.token,
    body: { capabilities: ['text.upper'], max_price: 100 * credit, duration_seconds: 2, ...body },
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body as Json & { id: string };
}

const bid = (owner: Caller, auctionId: string, body: Json, key?: string) =>
  api('POST', `/auctions/${auctionId}/bids`, {
    token: owner.token,
    body: { estimated_time_seconds: 15, ...body },
    ...(key ? { headers: { 'Idempotency-Key': key } } : {}),
  });

const closed = (auctionId: string) =>
  waitUntil(
    'the auction closes',
    async () =>
      (await api('GET', `/auctions/${auctionId}`, { token: requester.token })).body.status !== 'open',
    10_000,
  );

describe('when three agents bid in a second-price auction', () => {
  test('then bids stay sealed until close, the best score wins at its critical price, and each reader sees what it may', async () => {
    const auction = await open();
    const agents = await Promise.all(bidders.map((owner) => agentOf(owner)));
    // Placed in this order: 50, then 45, then 60 credits.
    for (const [index, price] of [50, 45, 60].entries()) {
      const placed = await bid(bidders[index]!, auction.id, {
        agent_id: agents[index],
        price: price * credit,
      });
      expect(placed.status, JSON.stringify(placed.body)).toBe(201);
    }
    const asRequester = await api('GET', `/auctions/${auction.id}`, { token: requester.token });
    expect(asRequester.body).toMatchObject({
      status: 'open',
      bid_count: 3,
      own_bids: [],
      outcome: null,
      clearing: null,
    });
    const asBidder = await api('GET', `/auctions/${auction.id}`, { token: bidders[1]!.token });
    expect(asBidder.body.bid_count).toBeNull();
    expect((asBidder.body.own_bids as Json[]).map((each) => each.price)).toEqual([45 * credit]);

    await closed(auction.id);
    const final = await api('GET', `/auctions/${auction.id}`, { token: requester.token });
    // 45 wins; it beats 50 while p < 50 and the 50 was placed first, so it is paid 50 credits − 1 µ.
    expect(final.body).toMatchObject({
      status: 'awarded',
      outcome: { winner_agent_id: agents[1], price: 50 * credit - 1, rule: 'second_price' },
    });
    const clearing = final.body.clearing as { bids: Json[]; price: number; winner_bid_id: string };
    expect(clearing.bids.map((each) => each.price)).toEqual([45 * credit, 50 * credit, 60 * credit]);
    expect(clearing.price).toBe(50 * credit - 1);

    const loser = await api('GET', `/auctions/${auction.id}`, { token: bidders[2]!.token });
    expect(loser.body).toMatchObject({
      outcome: { winner_agent_id: agents[1] },
      clearing: null,
      bid_count: null,
    });
    expect((loser.body.own_bids as Json[]).map((each) => each.status)).toEqual(['lost']);
    const stranger = await client.register('stranger');
    const seen = await api('GET', `/auctions/${auction.id}`, { token: stranger.token });
    expect(seen.body).toMatchObject({ outcome: null, clearing: null, own_bids: [], bid_count: null });
  });
});

describe('when a bid is refused', () => {
  test('then each reason has its own code and nothing is placed', async () => {
    const auction = await open({
      type: 'reserve',
      reserve_price: 10 * credit,
      max_price: 50 * credit,
      min_reputation: 40,
      duration_seconds: 60,
    });
    const [owner] = bidders;
    const agent = await agentOf(owner!);
    const wrongSkill = await agentOf(owner!, ['text.reverse']);
    const own = await agentOf(requester);
    const retired = await agentOf(owner!);
    expect((await api('DELETE', `/agents/${retired}`, { token: owner!.token })).status).toBe(204);

    expectError(
      await bid(owner!, auction.id, { agent_id: agent, price: 51 * credit }),
      422,
      'BID_ABOVE_MAX_PRICE',
    );
    expectError(
      await bid(owner!, auction.id, { agent_id: agent, price: 9 * credit }),
      422,
      'BID_BELOW_RESERVE',
    );
    expectError(
      await bid(owner!, auction.id, { agent_id: wrongSkill, price: 20 * credit }),
      422,
      'CAPABILITY_MISSING',
    );
    expectError(await bid(requester, auction.id, { agent_id: own, price: 20 * credit }), 422, 'SELF_BIDDING');
    expectError(
      await bid(owner!, auction.id, { agent_id: retired, price: 20 * credit }),
      409,
      'AGENT_UNAVAILABLE',
    );
    expectError(
      await bid(bidders[1]!, auction.id, { agent_id: agent, price: 20 * credit }),
      404,
      'NOT_FOUND',
    );
    expectError(
      await bid(owner!, auction.id, { agent_id: agent, price: 20 * credit, estimated_time_seconds: 31 }),
      400,
      'VALIDATION_FAILED',
    );
    const picky = await open({ min_reputation: 60, duration_seconds: 60 });
    expectError(
      await bid(owner!, picky.id, { agent_id: agent, price: 20 * credit }),
      422,
      'REPUTATION_TOO_LOW',
    );

    const view = await api('GET', `/auctions/${auction.id}`, { token: requester.token });
    expect(view.body.bid_count).toBe(0);
    // A short auction for the last refusal, so the ones above never race its expiry.
    const brief = await open({ duration_seconds: 1 });
    await closed(brief.id);
    expect((await api('GET', `/auctions/${brief.id}`, { token: requester.token })).body.status).toBe(
      'expired',
    );
    expectError(await bid(owner!, brief.id, { agent_id: agent, price: 20 * credit }), 409, 'AUCTION_CLOSED');
  });
});

describe('when an agent bids again or retries', () => {
  test('then a re-bid replaces its bid, and the same Idempotency-Key replays or conflicts', async () => {
    const auction = await open({ duration_seconds: 60 });
    const [owner] = bidders;
    const agent = await agentOf(owner!);
    const key = randomUUID();
    const first = await bid(owner!, auction.id, { agent_id: agent, price: 30 * credit }, key);
    const replay = await bid(owner!, auction.id, { agent_id: agent, price: 30 * credit }, key);
    expect(replay.status).toBe(201);
    expect(replay.body.id).toBe(first.body.id);
    expectError(
      await bid(owner!, auction.id, { agent_id: agent, price: 31 * credit }, key),
      409,
      'IDEMPOTENCY_KEY_REUSED',
    );
    const second = await bid(owner!, auction.id, { agent_id: agent, price: 25 * credit });
    expect(second.status).toBe(201);
    const view = await api('GET', `/auctions/${auction.id}`, { token: owner!.token });
    expect((view.body.own_bids as Json[]).map((each) => each.price)).toEqual([25 * credit]);
    expect((await api('GET', `/auctions/${auction.id}`, { token: requester.token })).body.bid_count).toBe(1);
    // One bid.placed event per bid placed (not for the replay), as the contract says, stamped
    // with the bid's own time.
    const ownerId = (await api('GET', `/agents/${agent}`)).body.owner_id;
    const db = new pg.Client({ connectionString: system.services.auction!.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query(
        `SELECT payload FROM outbox WHERE subject = $1 AND payload->>'auction_id' = $2 ORDER BY occurred_at`,
        [auctionEvents.bidPlaced.subject, auction.id],
      );
      expect(rows.map((row) => auctionEvents.bidPlaced.payload.parse(row.payload))).toEqual([
        {
          bid_id: first.body.id,
          auction_id: auction.id,
          agent_id: agent,
          owner_id: ownerId,
          placed_at: first.body.created_at,
        },
        {
          bid_id: second.body.id,
          auction_id: auction.id,
          agent_id: agent,
          owner_id: ownerId,
          placed_at: second.body.created_at,
        },
      ]);
    } finally {
      await db.end();
    }
  });
  test('then racing re-bids of one agent leave one live bid, and racing retries of one key place one bid', async () => {
    const auction = await open({ duration_seconds: 60 });
    const [owner] = bidders;
    const agent = await agentOf(owner!);
    const raced = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        bid(owner!, auction.id, { agent_id: agent, price: (20 + index) * credit }),
      ),
    );
    expect(raced.map((response) => response.status)).toEqual(Array(10).fill(201));
    const live = await api('GET', `/auctions/${auction.id}`, { token: owner!.token });
    expect(live.body.own_bids as Json[]).toHaveLength(1);
    const key = randomUUID();
    const retries = await Promise.all(
      Array.from({ length: 10 }, () => bid(owner!, auction.id, { agent_id: agent, price: 33 * credit }, key)),
    );
    expect(retries.map((response) => response.status)).toEqual(Array(10).fill(201));
    expect(new Set(retries.map((response) => response.body.id)).size).toBe(1);
    const after = await api('GET', `/auctions/${auction.id}`, { token: owner!.token });
    expect((after.body.own_bids as Json[]).map((each) => [each.id, each.price])).toEqual([
      [retries[0]!.body.id, 33 * credit],
    ]);
    expect((await api('GET', `/auctions/${auction.id}`, { token: requester.token })).body.bid_count).toBe(1);
  });
});

describe('when the requester cancels', () => {
  test('then only the requester may, only while open', async () => {
    const auction = await open({ duration_seconds: 60 });
    expectError(
      await api('POST', `/auctions/${auction.id}/cancel`, { token: bidders[0]!.token }),
      404,
      'NOT_FOUND',
    );
    const canceled = await api('POST', `/auctions/${auction.id}/cancel`, { token: requester.token });
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    expectError(
      await api('POST', `/auctions/${auction.id}/cancel`, { token: requester.token }),
      409,
      'AUCTION_CLOSED',
    );
  });

  test('then an agent lists the open auctions it could bid on', async () => {
    const tag = `cap.${randomUUID().slice(0, 8)}`;
    const fits = await open({ capabilities: [tag], duration_seconds: 60 });
    await open({ capabilities: [tag, 'text.other'], duration_seconds: 60 });
    const agent = await agentOf(bidders[0]!, [tag]);
    const listed = await api('GET', `/auctions?status=open&agent_id=${agent}`, { token: bidders[0]!.token });
    expect(listed.status).toBe(200);
    expect((listed.body.items as Json[]).map((each) => each.id)).toContain(fits.id);
    expect(
      (listed.body.items as Json[]).every((each) =>
        (each.capabilities as string[]).every((c) => c === tag || c === 'text.upper'),
      ),
    ).toBe(true);
    expectError(
      await api('GET', `/auctions?agent_id=${agent}`, { token: bidders[1]!.token }),
      404,
      'NOT_FOUND',
    );
  });
});
