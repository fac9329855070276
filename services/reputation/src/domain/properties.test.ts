import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ratingEvidence } from './outcomes.js';
import {
  computeScores,
  type Dealing,
  type Evidence,
  reciprocalRequestersOf,
  scoringRules,
} from './scoring.js';

/**
 * The gaming properties of docs/REPUTATION.md "Hard to game", checked over generated histories.
 * Every input is made here; `now` is fixed, so decay is part of the property, not of the wait.
 */
const now = new Date('2026-06-01T00:00:00Z');
const dayMs = 86_400_000;
const reference = scoringRules.referencePaymentMicro;

const rating = (requesterId: string, stars: number, costMicro: bigint, daysAgo = 0): Evidence =>
  ratingEvidence({
    requesterId,
    agentOwnerId: 'owner-of-the-agent',
    rating: stars,
    costMicro,
    at: new Date(now.getTime() - daysAgo * dayMs),
  });

/** Some earlier ratings of the agent by other requesters: the state a new rating lands on. */
const history = fc.array(
  fc.record({
    stars: fc.integer({ min: 1, max: 5 }),
    costMicro: fc.bigInt({ min: 1n, max: 5n * reference }),
    daysAgo: fc.integer({ min: 0, max: 365 }),
  }),
  { maxLength: 30 },
);

describe('many tiny ratings from one requester', () => {
  it('when N five-star ratings on tasks of amount a < reference come from one requester, then quality moves less than one five-star rating on a reference-sized task, and at most min(2a/ref, 1 − (1 − a/ref)^N) × (1 + 1/K) of it', () => {
    fc.assert(
      fc.property(
        history,
        fc.integer({ min: 1, max: 5_000 }),
        // A tiny task: up to a tenth of the reference payment (1 credit when the reference is 10).
        fc.bigInt({ min: 1n, max: reference / 10n }),
        (earlier, count, tinyMicro) => {
          const before = earlier.map((item, index) =>
            rating(`earlier-${index}`, item.stars, item.costMicro, item.daysAgo),
          );
          const base = computeScores(before, now).quality.score;
          const tiny = Array.from({ length: count }, () => rating('spammer', 5, tinyMicro));
          const large = [rating('payer', 5, reference)];
          const moveTiny = computeScores([...before, ...tiny], now).quality.score - base;
          const moveLarge = computeScores([...before, ...large], now).quality.score - base;
          if (base >= 100 - 1e-9) return; // Nothing left to move (cannot happen below 100, kept for safety).
          expect(moveLarge).toBeGreaterThan(0);
          expect(moveTiny).toBeLessThan(moveLarge);
          const share = Number(tinyMicro) / Number(reference);
          const bound = Math.min(2 * share, 1 - (1 - share) ** count) * (1 + 1 / scoringRules.priorWeight);
          expect(moveTiny).toBeLessThanOrEqual(bound * moveLarge + 1e-9);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('a sybil ring', () => {
  const honestRecord = (): Evidence[] => {
    const evidence: Evidence[] = [];
    for (let task = 0; task < 200; task += 1) {
      const requesterId = `customer-${task % 40}`;
      const daysAgo = (task * 180) / 200;
      const occurredAt = new Date(now.getTime() - daysAgo * dayMs);
      const done = task % 10 !== 0;
      evidence.push({
        requesterId,
        amountMicro: reference,
        occurredAt,
        selfDealt: false,
        reliability: done ? 1 : 0,
        quality: null,
        speed: done ? 0.6 : null,
      });
      if (done) evidence.push(rating(requesterId, 4, reference, daysAgo));
    }
    return evidence;
  };
  const honest = computeScores(honestRecord(), now).overall;

  /** `requesters` each post `tasksEach` tasks to the agent, completed at once (speed 1) and rated 5. */
  function perfectRecord(requesters: readonly string[], tasksEach: number, paymentMicro: bigint): Evidence[] {
    return requesters.flatMap((requesterId) =>
      Array.from({ length: tasksEach }, (): Evidence[] => [
        {
          requesterId,
          amountMicro: paymentMicro,
          occurredAt: now,
          selfDealt: false,
          reliability: 1,
          quality: null,
          speed: 1,
        },
        rating(requesterId, 5, paymentMicro),
      ]).flat(),
    );
  }

  /** Member 0's score in a ring where every member posts tasks to every other member's agent. */
  function ringMemberScore(ringSize: number, tasksEach: number, paymentMicro: bigint): number {
    const members = Array.from({ length: ringSize }, (_, index) => `sybil-${index}`);
    const dealings: Dealing[] = members.flatMap((requesterId) =>
      members.filter((ownerId) => ownerId !== requesterId).map((ownerId) => ({ requesterId, ownerId })),
    );
    const peers = members.slice(1);
    return computeScores(
      perfectRecord(peers, tasksEach, paymentMicro),
      now,
      reciprocalRequestersOf(members[0]!, dealings),
    ).overall;
  }

  it('when the honest agent is the one of the setting, then its score is well above neutral', () => {
    expect(honest).toBeGreaterThan(65);
  });

  it('when up to 30 fresh accounts rate each other (everyone posts to everyone, up to the reference payment, all five stars), then none passes the honest agent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 30 }),
        fc.integer({ min: 1, max: 20 }),
        fc.bigInt({ min: 1n, max: reference }),
        (ringSize, tasksEach, paymentMicro) => {
          expect(ringMemberScore(ringSize, tasksEach, paymentMicro)).toBeLessThan(honest);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('when the ring splits into up to 5 pure requester accounts and agents, then no agent passes the honest agent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 50 }),
        fc.bigInt({ min: 1n, max: reference }),
        (requesterCount, tasksEach, paymentMicro) => {
          const requesters = Array.from({ length: requesterCount }, (_, index) => `buyer-${index}`);
          const sybil = computeScores(perfectRecord(requesters, tasksEach, paymentMicro), now).overall;
          expect(sybil).toBeLessThan(honest);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('when 10 independent accounts each pay the reference for perfect work, or 50 accounts rate each other 20 times, then the agent can pass: the documented limits', () => {
    const requesters = Array.from({ length: 10 }, (_, index) => `buyer-${index}`);
    expect(computeScores(perfectRecord(requesters, 1, reference), now).overall).toBeGreaterThan(honest);
    expect(ringMemberScore(50, 20, reference)).toBeGreaterThan(honest);
  });
});
