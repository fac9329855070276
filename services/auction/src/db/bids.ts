import { auctionEvents } from '@zerostate/contracts';
import {
  inStatement,
  inTransaction,
  isUniqueViolation,
  outboxInsertOf,
  pgTransactions,
  uuidV7,
} from '@zerostate/database';
import type pg from 'pg';
import type { AgentForBid, AuctionForBid } from '../domain/bid-rules.js';
import { neutralHundredths } from './agents.js';
import type { BidRecord } from './auctions.js';

export interface BidAttempt {
  auctionId: string;
  agentId: string;
  ownerId: string;
  price: bigint;
  estimatedTimeSeconds: number;
  /** An Idempotency-Key and the hash of the request it came with. */
  retry?: { key: string; hash: string };
}

/**
 * What the handler decides on the rows a bid is grounded on, read for it or remembered
 * (`BidReadCache`): throw to refuse, return to place the bid. It may run more than once for one
 * bid (a remembered decision that is then taken again on a fresh read, a retry), so it must have
 * no side effects; a throw on remembered rows is not answered but sends the bid to a fresh read.
 */
export type BidDecision = (
  auction: AuctionForBid,
  agent: (AgentForBid & { id: string }) | undefined,
) => void | Promise<void>;

export type BidOutcome =
  | { kind: 'placed'; bid: BidRecord }
  | { kind: 'replay'; bid: BidRecord }
  | { kind: 'key_reused' }
  | { kind: 'closed' }
  | { kind: 'not_found' };

/**
 * Everything a bid is decided on, in one statement: the auction, the bidding agent with its score
 * and row version (`xmin`, which every update of the row changes), and the earlier bid of the same
 * Idempotency-Key, if any. The locked form (the fallback, see `placeBid`) locks the agent's row,
 * so that agent's bids run one after another and the write, a later statement, sees the agent's
 * live bid as its predecessor left it; bids of different agents never wait for each other.
 */
const readSelect = `
SELECT a.status, a.expires_at, a.requester_id::text, a.capabilities, a.max_price::text,
       a.reserve_price::text, a.min_reputation, a.timeout_seconds,
       g.id::text AS agent_id, g.owner_id::text AS agent_owner, g.status AS agent_status,
       g.retired_at, g.capabilities AS agent_capabilities, g.xmin::text AS agent_version,
       COALESCE(s.overall_hundredths, ${neutralHundredths})::int AS reputation,
       e.id::text AS earlier_id, e.price::text AS earlier_price, e.estimated_time_seconds AS earlier_estimate,
       e.status AS earlier_status, e.created_at AS earlier_created_at, e.request_hash AS earlier_hash
FROM auctions a
JOIN agents g ON g.id = $2::uuid
LEFT JOIN agent_scores s ON s.agent_id = $2::uuid
LEFT JOIN bids e ON e.owner_id = $3::uuid AND e.idempotency_key = $4
WHERE a.id = $1::uuid`;
const readStatements = {
  free: { name: 'auction_bid_read', text: readSelect },
  locked: { name: 'auction_bid_read_locked', text: `${readSelect}\nFOR NO KEY UPDATE OF g` },
};

interface ReadRow {
  status: AuctionForBid['status'];
  expires_at: Date;
  requester_id: string;
  capabilities: string[];
  max_price: string;
  reserve_price: string | null;
  min_reputation: number;
  timeout_seconds: number;
  agent_id: string;
  agent_owner: string;
  agent_status: AgentForBid['status'];
  retired_at: Date | null;
  agent_capabilities: string[];
  agent_version: string;
  reputation: number;
  earlier_id: string | null;
  earlier_price: string | null;
  earlier_estimate: number | null;
  earlier_status: BidRecord['status'] | null;
  earlier_created_at: Date | null;
  earlier_hash: string | null;
}

/**
 * The write, in one statement (atomic by itself): under a share lock on the auction, taken only
 * while it is open and before `expires_at`, and a share lock on the agent's row, taken only if
 * the row is the version the bid was decided on, the agent's live bid becomes `replaced`, the new
 * bid is inserted and its `evt.auction.bid.placed` goes to the outbox with the bid's own
 * timestamp. It answers one row: `created_at` null means nothing was written, because the auction
 * closed since the read (`agent_unchanged` true) or the agent's row changed (false: decide again);
 * a bid decided on remembered rows (`$14`, see `BidReadCache`) also checks that the agent's score
 * is still the one it was decided on.
 * Bids into one auction do not wait for each other; a close or cancel (FOR UPDATE) and a bid
 * exclude each other, so no bid lands in a closed auction, and once it expires no bid takes the
 * lock, so the close job (SKIP LOCKED) finds it free at its next run however many late bids
 * arrive. An update of the agent (deactivation, heartbeat) and a bid exclude each other too, so a
 * bid is never decided on an agent that has changed by the time it lands.
 */
const writeSql = `
WITH auction AS (
  SELECT id FROM auctions
  WHERE id = $1::uuid AND status = 'open' AND expires_at > now()
  FOR SHARE
), agent AS (
  SELECT id FROM agents WHERE id = $2::uuid AND xmin::text = $13
    AND ($14::int IS NULL
         OR COALESCE((SELECT overall_hundredths FROM agent_scores WHERE agent_id = $2::uuid), ${neutralHundredths}) = $14)
  FOR SHARE
), replaced AS (
  UPDATE bids SET status = 'replaced'
  WHERE auction_id = $1::uuid AND agent_id = $2::uuid AND status = 'live'
    AND EXISTS (SELECT 1 FROM auction) AND EXISTS (SELECT 1 FROM agent)
  RETURNING id
), placed AS (
  INSERT INTO bids (id, auction_id, agent_id, owner_id, price, estimated_time_seconds, idempotency_key, request_hash)
  SELECT $3::uuid, $1::uuid, $2::uuid, $4::uuid, $5, $6, $7, $8
  FROM auction, agent, (SELECT count(*) FROM replaced) AS replacing
  RETURNING created_at
), event AS (
  INSERT INTO outbox (id, subject, payload, headers)
  SELECT $9::uuid, $10,
         jsonb_set($11::jsonb, '{placed_at}',
                   to_jsonb(to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))),
         $12::jsonb
  FROM placed
)
SELECT (SELECT created_at FROM placed) AS created_at, EXISTS (SELECT 1 FROM agent) AS agent_unchanged`;

/**
 * How often a bid is tried in all: the lock-free first try, then the locked form (see
 * `placeBid`); a try after two requests with one Idempotency-Key met on its index replays the
 * winner's bid.
 */
const attempts = 3;
/** Stands in for the bid's timestamp while the event payload is checked; the write sets the real one. */
const placedAtPlaceholder = new Date(0).toISOString();

/** What a bid is decided on: the auction's terms and the bidding agent as one read saw them. */
interface BidGrounds {
  auction: AuctionForBid;
  /** Undefined when the agent belongs to someone else (answered as not found). */
  agent: (AgentForBid & { id: string }) | undefined;
  /** The agent row's `xmin` when read; the write lands only on that version. */
  agentVersion: string;
  /** The agent's score in hundredths when read. */
  reputationHundredths: number;
}

/**
 * The rows recent bids were decided on, remembered per process so that a bid by an agent this
 * process has seen, into an auction it has seen, skips the read: the write checks what could have
 * changed since (the auction still open and before expiry, the agent's row version, and here also
 * the agent's score), and a bid the remembered rows would refuse, or whose write finds anything
 * changed, forgets them and runs the ordinary way, so every answer is the one a fresh read gives.
 * An auction's terms never change after it opens; only its status does, which the write checks.
 * Bounded: the oldest entry goes when a map is full, and none is used after five minutes. Each
 * replica has its own; none needs another's.
 */
export class BidReadCache {
  private readonly auctions = new Map<string, Remembered<AuctionForBid>>();
  private readonly agents = new Map<string, Remembered<Omit<BidGrounds, 'auction'>>>();

  constructor(
    private readonly capacity = 10_000,
    /** An entry older than this is not used (so `xmin`, a 32-bit counter, is never trusted for long). */
    private readonly maxAgeMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  grounds(attempt: BidAttempt): BidGrounds | undefined {
    const oldest = this.now() - this.maxAgeMs;
    const auction = this.auctions.get(attempt.auctionId);
    const agent = auction && this.agents.get(attempt.agentId);
    if (!auction || !agent || auction.at < oldest || agent.at < oldest) return undefined;
    if (agent.value.agent?.ownerId !== attempt.ownerId) return undefined;
    return { auction: auction.value, ...agent.value };
  }

  remember(attempt: BidAttempt, grounds: BidGrounds): void {
    const at = this.now();
    if (grounds.auction.status === 'open')
      remember(this.auctions, attempt.auctionId, { value: grounds.auction, at }, this.capacity);
    const { auction: _, ...agent } = grounds;
    remember(this.agents, attempt.agentId, { value: agent, at }, this.capacity);
  }

  forget(attempt: BidAttempt): void {
    this.auctions.delete(attempt.auctionId);
    this.agents.delete(attempt.agentId);
  }
}

interface Remembered<V> {
  value: V;
  at: number;
}

function remember<V>(map: Map<string, V>, key: string, value: V, capacity: number): void {
  map.delete(key);
  if (map.size >= capacity) map.delete(map.keys().next().value!);
  map.set(key, value);
}

/** What makes a try of a bid give way to the next one. */
function isRetryable(error: unknown): boolean {
  return (
    isUniqueViolation(error, 'bids_owner_id_idempotency_key_key') ||
    isUniqueViolation(error, 'bids_one_live_per_agent')
  );
}

/**
 * Places a bid in plain SQL on the service's pool (no ORM on the hottest write): the read,
 * `decide` (throw to refuse), then the write above. Both are named statements, parsed and planned
 * once per connection (unnamed, Postgres spent more time parsing and planning them than running
 * them). The first try runs them as two statements with no transaction around them (no BEGIN, no
 * COMMIT, no lock held between them), which is safe because the write re-checks everything the
 * decision could have missed: the auction still open, the agent's row unchanged. When another
 * bid of the same agent or a change of the agent came between them (the agent's row changed, or
 * the live-bid index refused a second live bid), the next try runs in one transaction whose read
 * locks the agent's row, so that agent's bids run one after another as they always did; no bid is
 * refused because another bid of its agent was in flight. Two requests with one Idempotency-Key
 * meet on its unique index; the loser runs again and replays the winner's bid. With a `cache`, a
 * bid without an Idempotency-Key whose rows it remembers is first tried on those, with the write
 * alone (`BidReadCache`).
 */
export async function placeBid(
  pool: pg.Pool,
  attempt: BidAttempt,
  decide: BidDecision,
  cache?: BidReadCache,
): Promise<BidOutcome> {
  const remembered = attempt.retry ? undefined : cache?.grounds(attempt);
  if (remembered) {
    const placed = await inStatement(() => placeOnRemembered(pool, attempt, remembered, decide)).catch(
      (error: unknown) => {
        if (isUniqueViolation(error, 'bids_one_live_per_agent')) return undefined;
        throw error;
      },
    );
    if (placed) return placed;
    cache!.forget(attempt);
  }
  for (let round = 1; ; round += 1) {
    try {
      const outcome =
        round === 1
          ? await inStatement(() => placeBidIn(pool, 'free', attempt, decide, cache))
          : await inTransaction(pgTransactions(pool), (client) =>
              placeBidIn(client, 'locked', attempt, decide, cache),
            );
      if (outcome.kind !== 'agent_changed') return outcome;
      if (round >= attempts) throw new Error('the agent changed under a bid holding its row lock');
    } catch (error) {
      if (!isRetryable(error) || round >= attempts) throw error;
    }
  }
}

/** The bid on remembered rows: placed, or undefined when anything would or did go otherwise. */
async function placeOnRemembered(
  pool: pg.Pool,
  attempt: BidAttempt,
  grounds: BidGrounds,
  decide: BidDecision,
): Promise<BidOutcome | undefined> {
  try {
    await decide(grounds.auction, grounds.agent);
  } catch {
    return undefined;
  }
  const outcome = await write(pool, attempt, grounds, true);
  return outcome.kind === 'placed' ? outcome : undefined;
}

async function placeBidIn(
  sql: pg.Pool | pg.PoolClient,
  form: keyof typeof readStatements,
  attempt: BidAttempt,
  decide: BidDecision,
  cache: BidReadCache | undefined,
): Promise<BidOutcome | { kind: 'agent_changed' }> {
  const { rows } = await sql.query<ReadRow>({
    ...readStatements[form],
    values: [attempt.auctionId, attempt.agentId, attempt.ownerId, attempt.retry?.key ?? null],
  });
  const row = rows[0];
  if (!row) return { kind: 'not_found' };
  if (attempt.retry && row.earlier_id) {
    if (row.earlier_hash !== attempt.retry.hash) return { kind: 'key_reused' };
    return {
      kind: 'replay',
      bid: {
        id: row.earlier_id,
        auctionId: attempt.auctionId,
        agentId: attempt.agentId,
        ownerId: attempt.ownerId,
        price: BigInt(row.earlier_price!),
        estimatedTimeSeconds: row.earlier_estimate!,
        status: row.earlier_status!,
        createdAt: row.earlier_created_at!,
      },
    };
  }
  const grounds = groundsOf(row, attempt);
  await decide(grounds.auction, grounds.agent);
  const outcome = await write(sql, attempt, grounds, false);
  if (outcome.kind === 'placed') cache?.remember(attempt, grounds);
  return outcome;
}

function groundsOf(row: ReadRow, attempt: BidAttempt): BidGrounds {
  return {
    auction: {
      status: row.status,
      expiresAt: row.expires_at,
      requesterId: row.requester_id,
      capabilities: row.capabilities,
      maxPrice: BigInt(row.max_price),
      reservePrice: row.reserve_price === null ? null : BigInt(row.reserve_price),
      minReputation: row.min_reputation / 100,
      timeoutSeconds: row.timeout_seconds,
    },
    agent:
      row.agent_owner === attempt.ownerId
        ? {
            id: row.agent_id,
            ownerId: row.agent_owner,
            status: row.retired_at ? ('offline' as const) : row.agent_status,
            capabilities: row.agent_capabilities,
            reputation: row.reputation / 100,
          }
        : undefined,
    agentVersion: row.agent_version,
    reputationHundredths: row.reputation,
  };
}

/** The write statement for a decided bid; `checkScore` when the grounds were remembered. */
async function write(
  sql: pg.Pool | pg.PoolClient,
  attempt: BidAttempt,
  grounds: BidGrounds,
  checkScore: boolean,
): Promise<BidOutcome | { kind: 'agent_changed' }> {
  const id = uuidV7();
  const event = outboxInsertOf(auctionEvents.bidPlaced, {
    bid_id: id,
    auction_id: attempt.auctionId,
    agent_id: attempt.agentId,
    owner_id: attempt.ownerId,
    placed_at: placedAtPlaceholder,
  });
  const written = await sql.query<{ created_at: Date | null; agent_unchanged: boolean }>({
    name: 'auction_bid_write',
    text: writeSql,
    values: [
      attempt.auctionId,
      attempt.agentId,
      id,
      attempt.ownerId,
      attempt.price.toString(),
      attempt.estimatedTimeSeconds,
      attempt.retry?.key ?? null,
      attempt.retry?.hash ?? null,
      event.id,
      event.subject,
      event.payloadJson,
      event.headersJson,
      grounds.agentVersion,
      checkScore ? grounds.reputationHundredths : null,
    ],
  });
  const placed = written.rows[0]!;
  if (placed.created_at === null)
    return placed.agent_unchanged ? { kind: 'closed' } : { kind: 'agent_changed' };
  return {
    kind: 'placed',
    bid: {
      id,
      auctionId: attempt.auctionId,
      agentId: attempt.agentId,
      ownerId: attempt.ownerId,
      price: attempt.price,
      estimatedTimeSeconds: attempt.estimatedTimeSeconds,
      status: 'live',
      createdAt: placed.created_at,
    },
  };
}
