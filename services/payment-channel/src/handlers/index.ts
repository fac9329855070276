import type { Registration } from '@zerostate/bus';
import { accountLifecycleRegistrations } from './account-lifecycle.js';
import { accountRegistrations } from './accounts.js';
import { adminRegistrations } from './admin.js';
import { channelRegistrations } from './channels.js';
import type { PaymentDependencies } from './dependencies.js';
import { escrowRegistrations } from './escrow.js';

export type { PaymentDependencies } from './dependencies.js';

/** Every endpoint of `paymentEndpoints`, bound to its handler. */
export function paymentRegistrations(dependencies: PaymentDependencies): Registration[] {
  return [
    ...accountRegistrations(dependencies),
    ...accountLifecycleRegistrations(dependencies),
    ...channelRegistrations(dependencies),
    ...escrowRegistrations(dependencies),
    ...adminRegistrations(dependencies),
  ];
}
