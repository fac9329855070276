import { describe, expect, it } from 'vitest';
import { type ClearingTerms, clear, criticalPrice } from './pricing.js';
import { type AuctionTerms, rank, type ScoredInput, scoreNumerator, scoreText } from './scoring.js';

const credit = 1_000_000n;
const at = (second: number) => new Date(Date.UTC(2026, 11, 3, 12, 0, second));

function bid(
  bidId: string,
  price: bigint,
  reputation: number,
  quality: number,
  options: { eta?: number; second?: number } = {},
): ScoredInput {
  return {
    bidId,
    agentId: `agent-${bidId}`,
    price,
    estimatedTimeSeconds: BigInt(options.eta ?? 15),
    reputation: BigInt(Math.round(reputation * 100)),
    quality: BigInt(Math.round(quality * 100)),
    placedAt: at(options.second ?? 0),
  };
}

/** The seed's case: max price 100; bids 50 (80/85), 45 (90/90), 60 (70/75); equal estimates. */
const seedTerms: AuctionTerms = { maxPrice: 100n * credit, timeoutSeconds: 30n };
const seedBids = [
  bid('a', 50n * credit, 80, 85, { second: 1 }),
  bid('b', 45n * credit, 90, 90, { second: 2 }),
  bid('c', 60n * credit, 70, 75, { second: 3 }),
];
const terms = (type: ClearingTerms['type'], reservePrice: bigint | null = null): ClearingTerms => ({
  ...seedTerms,
  type,
  reservePrice,
});

describe("the seed's worked example (docs/AUCTIONS.md)", () => {
  it('when scored, then b 0.720000, a 0.660000, c 0.570000 (time term 0.05 each)', () => {
    expect(seedBids.map((item) => scoreText(seedTerms, scoreNumerator(seedTerms, item)))).toEqual([
      '0.660000',
      '0.720000',
      '0.570000',
    ]);
    expect(rank(seedTerms, seedBids).map((item) => item.bidId)).toEqual(['b', 'a', 'c']);
  });

  it('when priced first-price, then b pays its bid, 45', () => {
    expect(clear(terms('first_price'), seedBids)).toMatchObject({
      winner: { bidId: 'b' },
      price: 45n * credit,
    });
  });

  it('when priced with a reserve of 40, then b pays max(45, 40) = 45', () => {
    expect(clear(terms('reserve', 40n * credit), seedBids)).toMatchObject({ price: 45n * credit });
  });

  it('when priced second-price, then b pays the 60 at which it would tie a, minus a micro-credit because a bid earlier', () => {
    // b beats a while 0.4 · (1 − p/100) + 0.45 + 0.05 > 0.66, i.e. p < 60. At exactly 60 the
    // scores tie and a, the earlier bid, would win, so b's critical price is 60 credits − 1 µ.
    const clearing = clear(terms('second_price'), seedBids)!;
    expect(clearing.price).toBe(60n * credit - 1n);
    expect(clearing.computation).toMatchObject({
      rule: 'second_price',
      runner_up_bid_id: 'a',
      winner_wins_ties: false,
    });
  });

  it('when b had bid first, then it wins the tie at 60 and pays exactly 60', () => {
    const earlier = seedBids.map((item) => (item.bidId === 'b' ? { ...item, placedAt: at(0) } : item));
    expect(clear(terms('second_price'), earlier)!.price).toBe(60n * credit);
  });

  it("when the seed's engine would have charged the runner-up's raw price, then that is not what is charged", () => {
    // The seed charged 50 (a's price): less than the price b would still have won at.
    expect(clear(terms('second_price'), seedBids)!.price).not.toBe(50n * credit);
  });
});

describe('edges', () => {
  it('when no bid is valid, then nothing is awarded', () => {
    expect(clear(terms('second_price'), [])).toBeUndefined();
  });

  it('when one bid is alone under second price, then it pays its own bid', () => {
    expect(clear(terms('second_price'), [seedBids[0]!])).toMatchObject({ price: 50n * credit });
  });

  it('when the runner-up is far behind, then the charge stops at max_price', () => {
    const strong = bid('s', 10n * credit, 100, 100, { eta: 1 });
    const weak = bid('w', 100n * credit, 0, 0, { eta: 30 });
    expect(criticalPrice(seedTerms, strong, weak)).toBeGreaterThan(100n * credit);
    expect(clear(terms('second_price'), [strong, weak])!.price).toBe(100n * credit);
  });

  it('when scores tie exactly, then the earlier bid wins, then the lower agent id', () => {
    const first = bid('x', 50n * credit, 80, 80, { second: 1 });
    const second = { ...first, bidId: 'y', agentId: 'agent-a', placedAt: at(2) };
    expect(rank(seedTerms, [second, first]).map((item) => item.bidId)).toEqual(['x', 'y']);
    const sameTime = { ...second, placedAt: at(1) };
    expect(rank(seedTerms, [first, sameTime]).map((item) => item.bidId)).toEqual(['y', 'x']);
  });
});

/** A small deterministic generator, so the property test runs the same cases everywhere. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const integer = (low: number, high: number) => low + Math.floor(next() * (high - low + 1));
  return { integer };
}

describe('second price, property: no bidder gains by bidding other than its true cost', () => {
  // The property: for any auction (max price, timeout) and any other bids, an agent with true cost
  // c (and fixed estimate, reputation, quality) earns utility u(b) = price − c when its bid b wins,
  // 0 when it loses. For every alternative bid b', u(b') ≤ u(c). And whenever it wins, the charge is
  // ≥ its bid and ≤ max_price.
  it('when 2,000 random auctions are cleared with the true cost and with deviations, then truth is never beaten', () => {
    const random = generator(20_261_203);
    for (let round = 0; round < 2_000; round += 1) {
      const auction: ClearingTerms = {
        type: 'second_price',
        reservePrice: null,
        maxPrice: BigInt(random.integer(1, 1_000)) * 1_000n,
        timeoutSeconds: BigInt(random.integer(1, 300)),
      };
      const randomBid = (id: string, second: number): ScoredInput => ({
        bidId: id,
        agentId: `agent-${id}`,
        price: BigInt(random.integer(1, Number(auction.maxPrice))),
        estimatedTimeSeconds: BigInt(random.integer(1, Number(auction.timeoutSeconds))),
        reputation: BigInt(random.integer(0, 10_000)),
        quality: BigInt(random.integer(0, 10_000)),
        placedAt: at(second),
      });
      const others = Array.from({ length: random.integer(1, 4) }, (_, index) =>
        randomBid(`o${index}`, index + 1),
      );
      const me = randomBid('me', random.integer(0, 5));
      const cost = me.price;
      const utility = (price: bigint) => {
        const clearing = clear(auction, [...others, { ...me, price }])!;
        if (clearing.winner.bidId !== 'me') return 0n;
        expect(clearing.price >= price && clearing.price <= auction.maxPrice).toBe(true);
        return clearing.price - cost;
      };
      const truthful = utility(cost);
      for (const deviation of [
        1n,
        cost / 2n,
        cost - 1n,
        cost + 1n,
        (cost + auction.maxPrice) / 2n,
        auction.maxPrice,
      ]) {
        if (deviation < 1n || deviation > auction.maxPrice) continue;
        expect(utility(deviation)).toBeLessThanOrEqual(truthful);
      }
    }
  });
});
