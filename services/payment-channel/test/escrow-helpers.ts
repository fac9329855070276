import { randomUUID } from 'node:crypto';
import { type Principal, paymentEndpoints } from '@zerostate/contracts';
import { credits, type Harness, scalar, taskService } from './harness.js';

/** What the escrow test files share: holds for fresh tasks and row reads. */
export function escrowHelpers(harness: () => Harness, system = taskService()) {
  /** A payer with `balance` and a hold of `amount` for a fresh task. */
  const held = async (options: { balance?: number; amount?: number } = {}) => {
    const payer = await harness().funded(options.balance ?? credits(10));
    const taskId = randomUUID();
    const escrow = await harness().call(
      paymentEndpoints.holdEscrow,
      { task_id: taskId, payer_did: payer.did, amount: options.amount ?? credits(4) },
      system,
    );
    return { payer, taskId, escrow };
  };
  return {
    system,
    funded: (amount: number) => harness().funded(amount),
    held,
    transfersOf: (taskId: string) => harness().transfersOf(taskId),
    escrowRows: async (taskId: string) =>
      Number(await scalar(harness().db, 'SELECT count(*) FROM escrows WHERE task_id = $1', [taskId])),
    balanceOf: (principal: Principal) => harness().call(paymentEndpoints.balance, {}, principal),
  };
}
