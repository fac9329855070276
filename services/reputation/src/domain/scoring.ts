/**
 * The scoring rules of docs/REPUTATION.md, as pure functions of the stored evidence and a clock.
 * Nothing here reads the time: `now` is always passed in, so decay is tested without waiting.
 */

export const dimensions = ['reliability', 'quality', 'speed'] as const;
export type Dimension = (typeof dimensions)[number];

export const scoringRules = {
  /** Evidence loses half its weight every 30 days. */
  halfLifeDays: 30,
  /** A task paid (or at stake) this much or more weighs 1; cheaper ones weigh proportionally less. */
  referencePaymentMicro: 10_000_000n,
  /**
   * Pseudo-evidence at 50 every dimension starts with (Bayesian shrinkage): an agent needs about
   * this many requesters' worth of evidence before its own record outweighs the prior.
   */
  priorWeight: 10,
  /**
   * What evidence from a reciprocal requester weighs, relative to an independent one: a requester
   * whose own agent was paid by this agent's owner (they do business both ways, as a ring of
   * accounts rating each other must).
   */
  reciprocalFactor: 0.1,
  /** A requester's pieces together weigh at most this many times its weightiest piece. */
  requesterSpreadMax: 2,
  /** overall = Σ weight × dimension; the weights add up to 1. */
  overallWeights: { reliability: 0.5, quality: 0.3, speed: 0.2 } as const satisfies Record<Dimension, number>,
} as const;

const neutral = 0.5;
const dayMs = 86_400_000;

/**
 * One stored piece of evidence about an agent: a task outcome or a rating. Each dimension value
 * is on 0–1, or null when this evidence says nothing about that dimension.
 */
export interface Evidence {
  /** Who paid: evidence is aggregated per requester, so one requester is at most one unit. */
  requesterId: string;
  /** What was paid (or, for a failure, would have been), in micro-credits. */
  amountMicro: bigint;
  occurredAt: Date;
  /** The requester owns the agent: self-dealing is recorded but weighs nothing. */
  selfDealt: boolean;
  reliability: number | null;
  quality: number | null;
  speed: number | null;
}

/** m_pay = min(1, amount / reference): free tasks weigh nothing, a reference-sized one 1. */
export function paymentWeight(amountMicro: bigint): number {
  if (amountMicro <= 0n) return 0;
  const reference = scoringRules.referencePaymentMicro;
  if (amountMicro >= reference) return 1;
  return Number(amountMicro) / Number(reference);
}

/** 2^(−age / half-life); evidence dated after `now` (clock skew) counts as fresh. */
export function decayFactor(occurredAt: Date, now: Date): number {
  const ageMs = Math.max(0, now.getTime() - occurredAt.getTime());
  return 2 ** (-ageMs / (scoringRules.halfLifeDays * dayMs));
}

/**
 * Requesters who were themselves paid by the agent's owner (for a task an agent of theirs
 * completed for the owner): their evidence about the owner's agents weighs `reciprocalFactor`.
 */
export type ReciprocalRequesters = ReadonlySet<string>;

const noReciprocalRequesters: ReciprocalRequesters = new Set();

/** m = m_pay × decay × standing; standing is 0 for self-dealing, 0.1 reciprocal, else 1. */
export function evidenceMass(
  evidence: Evidence,
  now: Date,
  reciprocal: ReciprocalRequesters = noReciprocalRequesters,
): number {
  if (evidence.selfDealt) return 0;
  const standing = reciprocal.has(evidence.requesterId) ? scoringRules.reciprocalFactor : 1;
  return paymentWeight(evidence.amountMicro) * decayFactor(evidence.occurredAt, now) * standing;
}

/** One requester's combined evidence on one dimension: weight W_r and value X_r. */
export interface RequesterEvidence {
  weight: number;
  value: number;
}

/**
 * W_r = min(2 × max_j m_j, 1 − Π_j (1 − m_j)): more pieces add weight, but a requester is at most
 * one unit and never weighs more than twice its weightiest piece, so many cheap tasks never add
 * up to one large payment. One piece alone weighs its own m. X_r = Σ m_j·x_j / Σ m_j.
 */
export function combineRequester(pieces: readonly { mass: number; value: number }[]): RequesterEvidence {
  let missing = 1;
  let largest = 0;
  let massSum = 0;
  let valueSum = 0;
  for (const piece of pieces) {
    if (piece.mass <= 0) continue;
    const mass = Math.min(1, piece.mass);
    missing *= 1 - mass;
    largest = Math.max(largest, mass);
    massSum += mass;
    valueSum += mass * piece.value;
  }
  if (massSum === 0) return { weight: 0, value: neutral };
  return {
    weight: Math.min(scoringRules.requesterSpreadMax * largest, 1 - missing),
    value: valueSum / massSum,
  };
}

/** A dimension: its score on 0–100 and the evidence weight E behind it. */
export interface DimensionScore {
  score: number;
  evidence: number;
}

/** score = 100 × (K × 0.5 + Σ_r W_r·X_r) / (K + Σ_r W_r). */
export function shrink(requesters: readonly RequesterEvidence[]): DimensionScore {
  const prior = scoringRules.priorWeight;
  let evidence = 0;
  let weighted = 0;
  for (const requester of requesters) {
    evidence += requester.weight;
    weighted += requester.weight * requester.value;
  }
  return { score: (100 * (prior * neutral + weighted)) / (prior + evidence), evidence };
}

export function dimensionScore(
  evidence: readonly Evidence[],
  dimension: Dimension,
  now: Date,
  reciprocal: ReciprocalRequesters = noReciprocalRequesters,
): DimensionScore {
  const byRequester = new Map<string, { mass: number; value: number }[]>();
  for (const piece of evidence) {
    const value = piece[dimension];
    if (value === null) continue;
    const pieces = byRequester.get(piece.requesterId) ?? [];
    pieces.push({ mass: evidenceMass(piece, now, reciprocal), value });
    byRequester.set(piece.requesterId, pieces);
  }
  return shrink([...byRequester.values()].map(combineRequester));
}

/** Every dimension and overall, unrounded. */
export interface Scores {
  reliability: DimensionScore;
  quality: DimensionScore;
  speed: DimensionScore;
  overall: number;
}

export function computeScores(
  evidence: readonly Evidence[],
  now: Date,
  reciprocal: ReciprocalRequesters = noReciprocalRequesters,
): Scores {
  const reliability = dimensionScore(evidence, 'reliability', now, reciprocal);
  const quality = dimensionScore(evidence, 'quality', now, reciprocal);
  const speed = dimensionScore(evidence, 'speed', now, reciprocal);
  const weights = scoringRules.overallWeights;
  const overall =
    weights.reliability * reliability.score + weights.quality * quality.score + weights.speed * speed.score;
  return { reliability, quality, speed, overall };
}

/** A completed, paid task between two users: `requesterId` paid, an agent of `ownerId` did it. */
export interface Dealing {
  requesterId: string;
  ownerId: string;
}

/**
 * The requesters reciprocal to an agent owner: everyone whose agents the owner paid. (Pure, so
 * the tests derive reciprocity from a generated history exactly as the service does from its
 * `dealings` table.)
 */
export function reciprocalRequestersOf(ownerId: string, dealings: readonly Dealing[]): ReciprocalRequesters {
  const reciprocal = new Set<string>();
  for (const dealing of dealings) {
    if (dealing.requesterId === ownerId && dealing.ownerId !== ownerId) reciprocal.add(dealing.ownerId);
  }
  return reciprocal;
}
