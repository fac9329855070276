import assert from 'node:assert/strict';
import { channelLifetimeDefaultSeconds } from '@zerostate/contracts';
import { AppError, type ErrorCode } from '@zerostate/errors';
import { creditOf, type GuardedChange } from './balances.js';

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

/** Open channels one payer may hold at once; each locks funds and is listed on every page view. */
export const openChannelsPerPayerMax = 1_000;

/**
 * What opening a channel needs: a payee other than the payer, the deposit taken from the payer's
 * available balance, and an expiry (24 hours unless the payer asks for another lifetime).
 */
export function decideChannelOpen(
  request: { payerDid: string; payeeDid: string; deposit: bigint; lifetimeSeconds?: number | undefined },
  now: Date,
): { expiresAt: Date; funding: GuardedChange } {
  if (request.payeeDid === request.payerDid) {
    throw new AppError('VALIDATION_FAILED', 'A channel cannot pay its own payer.', {
      details: [{ path: 'payee_did', code: 'custom', message: 'must differ from the payer' }],
    });
  }
  const lifetimeSeconds = request.lifetimeSeconds ?? channelLifetimeDefaultSeconds;
  return {
    expiresAt: new Date(now.getTime() + lifetimeSeconds * 1000),
    funding: { change: { available: -request.deposit }, refusal: 'INSUFFICIENT_FUNDS' },
  };
}

/**
 * A payer keeps at most `openChannelsPerPayerMax` channels open. The caller counts them with the
 * payer's account row locked, so concurrent opens cannot pass the cap together.
 */
export function requireRoomForChannel(openChannels: number): void {
  if (openChannels >= openChannelsPerPayerMax) {
    throw new AppError('CONFLICT', `A payer may keep at most ${openChannelsPerPayerMax} channels open.`);
  }
}

/**
 * A channel is visible to its payer and payee, and to operators; to anyone else it does not
 * exist (NOT_FOUND says nothing about whether it does). Answers the viewer's role.
 */
export function requireVisibleChannel<Channel extends ChannelState>(
  channel: Channel | null,
  viewer: { did: string; isOperator: boolean },
): { channel: Channel; role: ChannelRole } {
  const role = channel ? roleIn(channel, viewer.did) : 'none';
  if (!channel || (role === 'none' && !viewer.isOperator)) throw new AppError('NOT_FOUND');
  return { channel, role };
}

/**
 * A payment raises the channel's cumulative amount. Only the channel's parties see it (operators
 * do not pay for others), only the payer pays, and `paymentRefusal` says when it is refused.
 * Answers the channel's new amount and sequence number.
 */
export function decideChannelPayment(
  channel: ChannelState | null,
  payerDid: string,
  payment: { amount: bigint; sequenceNumber: bigint },
  now: Date,
): { paid: bigint; sequenceNumber: bigint } {
  const role = channel ? roleIn(channel, payerDid) : 'none';
  if (!channel || role === 'none') throw new AppError('NOT_FOUND');
  if (role !== 'payer') throw new AppError('FORBIDDEN', 'Only the payer pays through a channel.');
  const refusal = paymentRefusal(channel, payment, now);
  if (refusal) throw new AppError(refusal);
  return { paid: payment.amount, sequenceNumber: payment.sequenceNumber };
}

/** One credit a close makes out of the channel's locked deposit. */
export interface ChannelCredit {
  kind: 'channel_settlement' | 'channel_refund';
  to: 'payee' | 'payer';
  amount: bigint;
  credit: GuardedChange;
}

/** How a close splits the deposit, the status it leaves, and the credits it makes. */
export interface ChannelSettlement {
  status: 'closed' | 'expired';
  settled: bigint;
  refunded: bigint;
  /** Positive credits only: the payee's first, then the payer's. */
  credits: ChannelCredit[];
}

/**
 * How a close splits the deposit: the payee gets what it was paid, the payer the rest, and the
 * channel is `expired` once past its expiry, `closed` before.
 */
export function settlementOf(channel: ChannelState, now: Date): ChannelSettlement {
  const settled = channel.paid;
  const refunded = channel.deposit - channel.paid;
  const credits: ChannelCredit[] = [
    { kind: 'channel_settlement' as const, to: 'payee' as const, amount: settled, credit: creditOf(settled) },
    { kind: 'channel_refund' as const, to: 'payer' as const, amount: refunded, credit: creditOf(refunded) },
  ].filter((credit) => credit.amount > 0n);
  return { status: now >= channel.expiresAt ? 'expired' : 'closed', settled, refunded, credits };
}

/**
 * A close by a caller: NOT_FOUND unless the channel is visible to them, then `closeRefusal`,
 * then the settlement. Answers the channel and the closer's role (recorded in the audit row) too.
 */
export function decideChannelClose<Channel extends ChannelState>(
  channel: Channel | null,
  closer: { did: string; isOperator: boolean },
  now: Date,
): { channel: Channel; role: ChannelRole; settlement: ChannelSettlement } {
  const visible = requireVisibleChannel(channel, closer);
  const refusal = closeRefusal(visible.channel, { role: visible.role, isOperator: closer.isOperator }, now);
  if (refusal) throw new AppError(refusal);
  return { ...visible, settlement: settlementOf(visible.channel, now) };
}

/**
 * Channels that expired more than `graceMs` ago and are still open are settled by the expiry
 * sweep, exactly as if the payer had reclaimed the rest. The grace leaves the payee time to close
 * first. The sweep's SELECT applies the same rule (`expires_at < cutoff`) to claim rows.
 */
export function expirySweepCutoff(now: Date, graceMs: number): Date {
  return new Date(now.getTime() - graceMs);
}

/** The settlement of a channel the sweep claimed: the close the payer could have made. */
export function decideExpirySettlement(channel: ChannelState, now: Date, graceMs: number): ChannelSettlement {
  assert(
    channel.status === 'open' && channel.expiresAt < expirySweepCutoff(now, graceMs),
    'the sweep claims only open channels past their expiry and grace',
  );
  return settlementOf(channel, now);
}
