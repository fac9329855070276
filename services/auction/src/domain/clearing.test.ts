import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clearingRecord, type RecordTerms, verifyClearing } from './clearing.js';
import { clear } from './pricing.js';
import type { ScoredInput } from './scoring.js';

const credit = 1_000_000n;
const bid = (price: bigint, reputation: number, quality: number, second: number): ScoredInput => ({
  bidId: randomUUID(),
  agentId: randomUUID(),
  price: price * credit,
  estimatedTimeSeconds: 15n,
  reputation: BigInt(Math.round(reputation * 100)),
  quality: BigInt(Math.round(quality * 100)),
  placedAt: new Date(Date.UTC(2026, 11, 3, 12, 0, second)),
});

/** The seed's case under the truthful second-price rule: b (45, 90/90) wins and pays 60 − 1 µ. */
const terms: RecordTerms = {
  type: 'second_price',
  maxPrice: 100n * credit,
  reservePrice: null,
  timeoutSeconds: 30n,
};
const bids = [bid(50n, 80, 85, 1), bid(45n, 90, 90, 2), bid(60n, 70, 75.25, 3)];
const clearing = clear(terms, bids)!;
const record = clearingRecord(terms, bids, clearing);
const award = { winnerBidId: clearing.winner.bidId, price: clearing.price };

describe('recomputing a stored clearing', () => {
  it('when the record and award are as stored at close, then there is no difference', () => {
    expect(clearing.price).toBe(60n * credit - 1n);
    expect(verifyClearing(structuredClone(record), award)).toEqual([]);
  });

  it('when the stored price was altered, then the award and the record are each reported', () => {
    expect(verifyClearing({ ...record, price: 45_000_000 }, { ...award, price: 45_000_000n })).toEqual([
      { path: 'price', stored: 45_000_000, recomputed: 59_999_999 },
      { path: 'award.price', stored: 45_000_000, recomputed: 59_999_999 },
    ]);
  });

  it('when an input was altered, then its score, the ranking and the award that follow from it are reported', () => {
    const altered = structuredClone(record);
    // a's reputation raised from 80 to 100: a now beats b, so the whole outcome moves.
    altered.bids[1]!.reputation = 100;
    // a now ties b at 0.72 and wins the tie as the earlier bid: it pays its own 50.
    const [b, a, c] = record.bids.map((each) => each.bid_id);
    expect(verifyClearing(altered, award)).toEqual([
      { path: 'winner_bid_id', stored: b, recomputed: a },
      { path: 'price', stored: 59_999_999, recomputed: 50_000_000 },
      expect.objectContaining({ path: 'price_computation.winner_bid' }),
      expect.objectContaining({ path: 'price_computation.runner_up_bid_id', stored: a, recomputed: b }),
      expect.objectContaining({ path: 'price_computation.critical_price' }),
      { path: 'price_computation.winner_wins_ties', stored: false, recomputed: true },
      { path: 'bids.order', stored: [b, a, c], recomputed: [a, b, c] },
      { path: `bids[${a}].score`, stored: '0.660000', recomputed: '0.720000' },
      { path: 'award.winner_bid_id', stored: b, recomputed: a },
      { path: 'award.price', stored: 59_999_999, recomputed: 50_000_000 },
    ]);
  });

  it('when the award stored beside the record names another bid, then that is reported', () => {
    const loser = record.bids[2]!.bid_id;
    expect(verifyClearing(record, { ...award, winnerBidId: loser })).toEqual([
      { path: 'award.winner_bid_id', stored: loser, recomputed: clearing.winner.bidId },
    ]);
  });

  it('when an auction expired without bids, then the empty record verifies and a made-up price does not', () => {
    const empty = clearingRecord(terms, [], undefined);
    expect(verifyClearing(empty, { winnerBidId: null, price: null })).toEqual([]);
    expect(verifyClearing(empty, { winnerBidId: null, price: 1n })).toEqual([
      { path: 'award.price', stored: 1, recomputed: null },
    ]);
  });
});
