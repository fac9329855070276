import type { Registration } from '@zerostate/bus';
import type { ReputationDependencies } from './dependencies.js';
import { ratingRegistrations } from './rating.js';
import { readRegistrations } from './reads.js';

export type { ReputationDependencies } from './dependencies.js';

/** Every endpoint of `reputationEndpoints`, bound to its handler. */
export function reputationRegistrations(dependencies: ReputationDependencies): Registration[] {
  return [...readRegistrations(dependencies), ...ratingRegistrations(dependencies)];
}
