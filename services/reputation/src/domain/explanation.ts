import { type Dimension, dimensions, type Scores, scoringRules } from './scoring.js';

/** Scores as shown: every number in hundredths, so the terms add up to `overall` exactly. */
export interface DisplayedScores {
  overall: number;
  reliability: number;
  quality: number;
  speed: number;
  explanation: { terms: { name: string; value: number }[]; formula: string };
}

/** Half away from zero, in hundredths (an integer). */
export function toHundredths(value: number): number {
  return Math.round(value * 100 + Number.EPSILON * Math.sign(value));
}

/**
 * Splits `total` hundredths over the exact parts by largest remainder: each part gets its
 * floor, and the hundredths still missing go to the parts with the largest fractions (ties:
 * earlier part). The result adds up to `total` exactly and each part is within 0.01 of its exact value.
 */
export function apportion(parts: readonly number[], total: number): number[] {
  const scaled = parts.map((part) => part * 100);
  const floors = scaled.map((value) => Math.floor(value));
  let missing = total - floors.reduce((sum, value) => sum + value, 0);
  const order = scaled
    .map((value, index) => ({ index, fraction: value - floors[index]! }))
    .sort((left, right) => right.fraction - left.fraction || left.index - right.index);
  const result = [...floors];
  for (const { index } of order) {
    if (missing <= 0) break;
    result[index]! += 1;
    missing -= 1;
  }
  return result;
}

const hundredthsText = (hundredths: number) => (hundredths / 100).toFixed(2);

/**
 * Rounds the scores for display and explains `overall`: one term per dimension,
 * `weight × dimension`, apportioned so that the terms, added as decimals, equal `overall`.
 */
export function displayScores(scores: Scores): DisplayedScores {
  const weights = scoringRules.overallWeights;
  const overallHundredths = toHundredths(scores.overall);
  const exactTerms = dimensions.map((dimension) => weights[dimension] * scores[dimension].score);
  const terms = apportion(exactTerms, overallHundredths);
  const shown = Object.fromEntries(
    dimensions.map((dimension) => [dimension, toHundredths(scores[dimension].score)]),
  ) as Record<Dimension, number>;
  const evidence = dimensions
    .map((dimension) => `${dimension} ${scores[dimension].evidence.toFixed(4)}`)
    .join(', ');
  const formula =
    `overall = ${dimensions.map((dimension) => `${weights[dimension]} × ${dimension}`).join(' + ')}` +
    ` = ${dimensions.map((dimension) => `${weights[dimension]} × ${hundredthsText(shown[dimension])}`).join(' + ')}` +
    ` ≈ ${hundredthsText(overallHundredths)};` +
    ` each dimension = 100 × (${scoringRules.priorWeight} × 0.5 + Σ W·x) / (${scoringRules.priorWeight} + Σ W),` +
    ` W per requester = 1 − Π(1 − m), m = min(1, paid / ${Number(scoringRules.referencePaymentMicro) / 1_000_000} credits)` +
    ` × 2^(−age / ${scoringRules.halfLifeDays} days); evidence Σ W: ${evidence}`;
  return {
    overall: overallHundredths / 100,
    reliability: shown.reliability / 100,
    quality: shown.quality / 100,
    speed: shown.speed / 100,
    explanation: {
      terms: dimensions.map((dimension, index) => ({ name: dimension, value: terms[index]! / 100 })),
      formula,
    },
  };
}
