import type { Registration } from '@zerostate/bus';
import { accountRegistrations } from './account.js';
import { apiKeyRegistrations } from './api-keys.js';
import type { AuthDependencies } from './dependencies.js';
import { lifecycleRegistrations } from './lifecycle.js';
import { sessionRegistrations } from './sessions.js';
import { signingKeyRegistrations } from './signing-keys.js';

export type { AuthDependencies } from './dependencies.js';

/** Every endpoint of `authEndpoints`, bound to its handler. */
export function authRegistrations(dependencies: AuthDependencies): Registration[] {
  return [
    ...sessionRegistrations(dependencies),
    ...accountRegistrations(dependencies),
    ...apiKeyRegistrations(dependencies),
    ...signingKeyRegistrations(dependencies),
    ...lifecycleRegistrations(dependencies),
  ];
}
