import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apportion, displayScores, toHundredths } from './explanation.js';
import type { Scores } from './scoring.js';

const dimension = fc.double({ min: 0, max: 100, noNaN: true });

describe('rounding for display', () => {
  it('when any scores are shown, then the terms add up to overall in hundredths and each is within 0.01 of exact', () => {
    fc.assert(
      fc.property(dimension, dimension, dimension, (reliability, quality, speed) => {
        const scores: Scores = {
          reliability: { score: reliability, evidence: 1 },
          quality: { score: quality, evidence: 1 },
          speed: { score: speed, evidence: 1 },
          overall: 0.5 * reliability + 0.3 * quality + 0.2 * speed,
        };
        const shown = displayScores(scores);
        const terms = shown.explanation.terms.map((term) => toHundredths(term.value));
        expect(terms.reduce((sum, value) => sum + value, 0)).toBe(toHundredths(shown.overall));
        // As JSON numbers too: the float sum is the overall up to float noise.
        const sum = shown.explanation.terms.reduce((total, term) => total + term.value, 0);
        expect(Math.abs(sum - shown.overall)).toBeLessThan(1e-9);
        const exact = [0.5 * reliability, 0.3 * quality, 0.2 * speed];
        shown.explanation.terms.forEach((term, index) => {
          expect(Math.abs(term.value - exact[index]!)).toBeLessThanOrEqual(0.0100001);
        });
        expect(shown.overall).toBeGreaterThanOrEqual(0);
        expect(shown.overall).toBeLessThanOrEqual(100);
      }),
      { numRuns: 2_000 },
    );
  });

  it('when parts are apportioned, then the largest fractions get the missing hundredths', () => {
    expect(apportion([0.333, 0.333, 0.334], 100)).toEqual([33, 33, 34]);
    expect(apportion([10.005, 20.004, 30.001], 6001)).toEqual([1001, 2000, 3000]);
    expect(toHundredths(12.345)).toBe(1235);
  });
});
