import type { ErrorCode } from '@zerostate/errors';

/** What the rules need to know about a channel. */
export interface ChannelState {
  status: 'open' | 'closed' | 'expired';
  payerDid: string;
  payeeDid: string;
  deposit: bigint;
  paid: bigint;
  sequenceNumber: bigint;
  expiresAt: Date;
}

export type ChannelRole = 'payer' | 'payee' | 'none';

export function roleIn(channel: Pick<ChannelState, 'payerDid' | 'payeeDid'>, did: string): ChannelRole {
  if (channel.payerDid === did) return 'payer';
  if (channel.payeeDid === did) return 'payee';
  return 'none';
}

/**
 * Why a payment cannot be accepted, or undefined when it can. Checked in this order so the
 * answer names the first thing the payer must fix: a channel that no longer takes payments, a
 * sequence number that is not new, then an amount that does not rise or exceeds the deposit.
 */
export function paymentRefusal(
  channel: ChannelState,
  payment: { amount: bigint; sequenceNumber: bigint },
  now: Date,
): ErrorCode | undefined {
  if (channel.status !== 'open') return 'CHANNEL_CLOSED';
  if (now >= channel.expiresAt) return 'CHANNEL_EXPIRED';
  if (payment.sequenceNumber <= channel.sequenceNumber) return 'STALE_SEQUENCE_NUMBER';
  if (payment.amount <= channel.paid || payment.amount > channel.deposit) return 'CHANNEL_AMOUNT_INVALID';
  return undefined;
}

/**
 * Why this caller cannot close the channel now, or undefined. The payee may close at any time
 * (it can only gain by settling what it was paid); the payer only once the channel has expired,
 * so the payee can count on the deposit until then; an operator (admin or system) may force-close.
 */
export function closeRefusal(
  channel: ChannelState,
  closer: { role: ChannelRole; isOperator: boolean },
  now: Date,
): ErrorCode | undefined {
  if (channel.status !== 'open') return 'CHANNEL_CLOSED';
  if (closer.isOperator || closer.role === 'payee') return undefined;
  if (closer.role === 'payer') return now >= channel.expiresAt ? undefined : 'CHANNEL_NOT_EXPIRED';
  return 'NOT_FOUND';
}

/** How a close splits the deposit, and the status it leaves: `expired` once past expiry. */
export function settlementOf(
  channel: ChannelState,
  now: Date,
): { settled: bigint; refunded: bigint; status: 'closed' | 'expired' } {
  return {
    settled: channel.paid,
    refunded: channel.deposit - channel.paid,
    status: now >= channel.expiresAt ? 'expired' : 'closed',
  };
}
