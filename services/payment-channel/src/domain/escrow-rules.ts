import { AppError } from '@zerostate/errors';
import {
  type BalanceChange,
  type Balances,
  creditOf,
  type GuardedChange,
  requireChange,
} from './balances.js';

export type EscrowStatus = 'held' | 'captured' | 'refunded';

/** What the rules need to know about a task's escrow. */
export interface EscrowState {
  taskId: string;
  payerDid: string;
  amount: bigint;
  status: EscrowStatus;
  payeeDid: string | null;
  capturedAmount: bigint | null;
  returnedAmount: bigint | null;
}

/**
 * Every escrow step is idempotent: repeating one that already took effect answers with the
 * escrow as it is (`replay`) and moves nothing; one that contradicts what happened is
 * ESCROW_CONFLICT. Who may call is decided before any of this (`requireEscrowCaller`).
 */
export type Replay<Escrow extends EscrowState> = { outcome: 'replay'; escrow: Escrow };

export type HoldDecision<Escrow extends EscrowState, Account extends Balances> =
  | Replay<Escrow>
  | { outcome: 'hold'; payer: Account; hold: GuardedChange };

/**
 * A hold of `amount` of the payer's available balance for a task. The payer must have an account
 * and the funds; a task holds one escrow, so a second hold with the same terms replays the first
 * and one with other terms (payer or amount) conflicts. `escrow` is the task's escrow, if any.
 */
export function decideEscrowHold<Escrow extends EscrowState, Account extends Balances>(
  escrow: Escrow | null,
  payer: Account | null,
  request: { payerDid: string; amount: bigint },
): HoldDecision<Escrow, Account> {
  if (!payer) throw new AppError('INSUFFICIENT_FUNDS');
  if (escrow) {
    if (escrow.payerDid === request.payerDid && escrow.amount === request.amount) {
      return { outcome: 'replay', escrow };
    }
    throw new AppError('ESCROW_CONFLICT', 'This task already holds an escrow with other terms.');
  }
  const hold: GuardedChange = {
    change: { available: -request.amount, held: request.amount },
    refusal: 'INSUFFICIENT_FUNDS',
  };
  return { outcome: 'hold', payer: requireChange(payer, hold), hold };
}

/** One ledger transfer out of the payer's held balance, to the payee or back to the payer. */
export interface EscrowTransfer {
  kind: 'escrow_capture' | 'escrow_return' | 'escrow_refund';
  amount: bigint;
  to: 'payee' | 'payer';
}

/** How a settled escrow moves money: out of held, into available, in one or two transfers. */
export interface EscrowSettlement {
  status: 'captured' | 'refunded';
  payeeDid: string | null;
  capturedAmount: bigint | null;
  returnedAmount: bigint;
  /** The payer's whole hold leaves `held`; what is not captured returns to `available`. */
  payerChange: BalanceChange;
  /** What the payee is credited; absent when nothing is captured (no payee account is needed). */
  payeeCredit: GuardedChange | undefined;
  /** Transfers with a positive amount only, in the order they are recorded. */
  transfers: EscrowTransfer[];
}

export type SettleDecision<Escrow extends EscrowState> =
  | Replay<Escrow>
  | { outcome: 'settle'; escrow: Escrow; settlement: EscrowSettlement };

/**
 * Capture pays `price` of the hold to the payee and returns the rest to the payer, once. The
 * same capture again replays; a capture of a settled escrow with other terms, or for more than
 * is held, conflicts. A price of 0 releases the whole hold to the payer.
 */
export function decideEscrowCapture<Escrow extends EscrowState>(
  escrow: Escrow | null,
  request: { payeeDid: string; price: bigint },
): SettleDecision<Escrow> {
  if (!escrow) throw new AppError('NOT_FOUND');
  const { price } = request;
  if (
    escrow.status === 'captured' &&
    escrow.payeeDid === request.payeeDid &&
    escrow.capturedAmount === price
  ) {
    return { outcome: 'replay', escrow };
  }
  if (escrow.status !== 'held')
    throw new AppError('ESCROW_CONFLICT', `The escrow is already ${escrow.status}.`);
  if (price > escrow.amount) throw new AppError('ESCROW_CONFLICT', 'The price exceeds the amount held.');
  const rest = escrow.amount - price;
  const transfers: EscrowTransfer[] = [
    { kind: 'escrow_capture' as const, amount: price, to: 'payee' as const },
    { kind: 'escrow_return' as const, amount: rest, to: 'payer' as const },
  ].filter((transfer) => transfer.amount > 0n);
  const settlement: EscrowSettlement = {
    status: 'captured',
    payeeDid: request.payeeDid,
    capturedAmount: price,
    returnedAmount: rest,
    payerChange: { held: -escrow.amount, available: rest },
    payeeCredit: price > 0n ? creditOf(price) : undefined,
    transfers,
  };
  return { outcome: 'settle', escrow, settlement };
}

/** Refund returns the whole hold to the payer, once, and never after a capture. */
export function decideEscrowRefund<Escrow extends EscrowState>(
  escrow: Escrow | null,
): SettleDecision<Escrow> {
  if (!escrow) throw new AppError('NOT_FOUND');
  if (escrow.status === 'refunded') return { outcome: 'replay', escrow };
  if (escrow.status !== 'held') throw new AppError('ESCROW_CONFLICT', 'The escrow was already captured.');
  const settlement: EscrowSettlement = {
    status: 'refunded',
    payeeDid: null,
    capturedAmount: null,
    returnedAmount: escrow.amount,
    payerChange: { held: -escrow.amount, available: escrow.amount },
    payeeCredit: undefined,
    transfers: [{ kind: 'escrow_refund', amount: escrow.amount, to: 'payer' }],
  };
  return { outcome: 'settle', escrow, settlement };
}
