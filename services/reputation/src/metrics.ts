import { counter, type Registry } from '@zerostate/observability';

/** The reputation service's own metrics (event consumers are counted by the kit). */
export function createReputationMetrics(registry: Registry) {
  return {
    ratings: counter(registry, 'reputation_ratings_total', 'Ratings committed (replays not counted).'),
    decayed: counter(
      registry,
      'reputation_decay_rescored_total',
      'Stored scores the decay job recomputed, by whether a shown value changed.',
      ['changed'],
    ),
  };
}
export type ReputationMetrics = ReturnType<typeof createReputationMetrics>;
