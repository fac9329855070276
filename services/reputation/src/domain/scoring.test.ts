import { describe, expect, it } from 'vitest';
import { displayScores } from './explanation.js';
import {
  combineRequester,
  computeScores,
  decayFactor,
  type Evidence,
  evidenceMass,
  paymentWeight,
  scoringRules,
} from './scoring.js';

const now = new Date('2026-06-01T00:00:00Z');
const daysBefore = (days: number) => new Date(now.getTime() - days * 86_400_000);
const credits = (amount: number) => BigInt(amount * 1_000_000);

function completed(
  requesterId: string,
  options: { days?: number; paid?: bigint; speed?: number } = {},
): Evidence {
  return {
    requesterId,
    amountMicro: options.paid ?? credits(10),
    occurredAt: daysBefore(options.days ?? 0),
    selfDealt: false,
    reliability: 1,
    quality: null,
    speed: options.speed ?? 1,
  };
}

describe('scoring', () => {
  it('when an agent has no evidence, then every dimension and overall is 50', () => {
    const scores = computeScores([], now);
    expect(scores.overall).toBe(50);
    expect([scores.reliability.score, scores.quality.score, scores.speed.score]).toEqual([50, 50, 50]);
  });

  it('when payment is below the reference, then the weight is proportional, and capped at 1 above it', () => {
    expect(paymentWeight(0n)).toBe(0);
    expect(paymentWeight(credits(1))).toBeCloseTo(0.1, 12);
    expect(paymentWeight(credits(10))).toBe(1);
    expect(paymentWeight(credits(1_000))).toBe(1);
  });

  it('when evidence is one half-life old, then it weighs half; two half-lives, a quarter', () => {
    expect(decayFactor(daysBefore(0), now)).toBe(1);
    expect(decayFactor(daysBefore(scoringRules.halfLifeDays), now)).toBeCloseTo(0.5, 12);
    expect(decayFactor(daysBefore(2 * scoringRules.halfLifeDays), now)).toBeCloseTo(0.25, 12);
    // A timestamp after `now` (clock skew) is fresh, never more than fresh.
    expect(decayFactor(new Date(now.getTime() + 86_400_000), now)).toBe(1);
  });

  it('when the injected clock moves on, then the same record decays toward 50 without any new event', () => {
    const record = Array.from({ length: 20 }, (_, index) => completed(`requester-${index}`));
    const fresh = computeScores(record, now).reliability.score;
    const later = computeScores(record, new Date(now.getTime() + 90 * 86_400_000)).reliability.score;
    const muchLater = computeScores(record, new Date(now.getTime() + 3_650 * 86_400_000)).reliability.score;
    // E = 20 fresh → 100 × (5 + 20) / (10 + 20); three half-lives later E = 2.5 → 100 × 7.5 / 12.5.
    expect(fresh).toBeCloseTo((100 * 25) / 30, 9);
    expect(later).toBeCloseTo((100 * 7.5) / 12.5, 9);
    expect(muchLater).toBeCloseTo(50, 6);
  });

  it('when the requester owns the agent, then the evidence weighs nothing', () => {
    expect(evidenceMass({ ...completed('owner'), selfDealt: true }, now)).toBe(0);
    expect(computeScores([{ ...completed('owner'), selfDealt: true }], now).overall).toBe(50);
  });

  it('when few requesters vouch for an agent, then it is shrunk toward 50 (Bayesian prior of 10)', () => {
    const one = computeScores([completed('a')], now).reliability.score;
    const ten = computeScores(
      Array.from({ length: 10 }, (_, index) => completed(`r${index}`)),
      now,
    ).reliability.score;
    expect(one).toBeCloseTo((100 * 6) / 11, 9);
    expect(ten).toBeCloseTo(75, 9);
  });

  it('when one requester sends many pieces, then together they weigh at most twice the weightiest and at most one', () => {
    const combined = combineRequester(Array.from({ length: 1_000 }, () => ({ mass: 0.001, value: 1 })));
    expect(combined.weight).toBeCloseTo(0.002, 12);
    expect(
      combineRequester([
        { mass: 0.5, value: 1 },
        { mass: 0.5, value: 0 },
      ]),
    ).toEqual({ weight: 0.75, value: 0.5 });
    expect(combineRequester([{ mass: 0.25, value: 1 }])).toEqual({ weight: 0.25, value: 1 });
    expect(
      combineRequester(Array.from({ length: 50 }, () => ({ mass: 0.9, value: 1 }))).weight,
    ).toBeLessThanOrEqual(1);
    expect(combineRequester([{ mass: 1, value: 0.25 }])).toEqual({ weight: 1, value: 0.25 });
    expect(combineRequester([])).toEqual({ weight: 0, value: 0.5 });
  });

  it('when failures and timeouts are mixed in, then reliability and speed follow the documented formulas', () => {
    const evidence: Evidence[] = [
      completed('a', { speed: 0.8 }),
      { ...completed('b'), reliability: 0, speed: null },
      { ...completed('c'), reliability: 0, speed: 0 },
    ];
    const scores = computeScores(evidence, now);
    expect(scores.reliability.score).toBeCloseTo((100 * (5 + 1)) / 13, 9);
    expect(scores.speed.score).toBeCloseTo((100 * (5 + 0.8)) / 12, 9);
    expect(scores.quality.score).toBe(50);
    expect(scores.overall).toBeCloseTo(
      0.5 * scores.reliability.score + 0.3 * scores.quality.score + 0.2 * scores.speed.score,
      12,
    );
  });
});

describe('display', () => {
  it('when scores are shown, then terms in hundredths add up exactly to the shown overall', () => {
    const scores = computeScores(
      [completed('a', { speed: 0.333 }), { ...completed('b'), quality: 0.75, reliability: null }],
      now,
    );
    const shown = displayScores(scores);
    const hundredths = shown.explanation.terms.map((term) => Math.round(term.value * 100));
    expect(hundredths.reduce((sum, value) => sum + value, 0)).toBe(Math.round(shown.overall * 100));
    expect(shown.explanation.terms.map((term) => term.name)).toEqual(['reliability', 'quality', 'speed']);
    expect(shown.explanation.formula).toContain('0.5 × reliability + 0.3 × quality + 0.2 × speed');
  });
});
