import type { Balance, Channel, Escrow, TransferKind } from '@zerostate/contracts';
import type { ChannelRecord } from '../db/channels.js';
import type { EscrowRecord } from '../db/escrows.js';
import type { AccountBalances } from '../db/ledger.js';
import { toJsonAmount } from '../domain/money.js';

const optionalAmount = (amount: bigint | null) => (amount === null ? null : toJsonAmount(amount));

/** A balance; an owner without an account yet has zero everywhere. */
export function encodeBalance(
  ownerDid: string,
  account: AccountBalances | null,
  inChannels: bigint,
): Balance {
  return {
    owner_did: ownerDid,
    currency: 'ZSC',
    available: toJsonAmount(account?.available ?? 0n),
    held: toJsonAmount(account?.held ?? 0n),
    in_channels: toJsonAmount(inChannels),
    total_deposited: toJsonAmount(account?.totalDeposited ?? 0n),
    total_withdrawn: toJsonAmount(account?.totalWithdrawn ?? 0n),
  };
}

export function encodeChannel(channel: ChannelRecord): Channel {
  return {
    id: channel.id,
    payer_did: channel.payerDid,
    payee_did: channel.payeeDid,
    status: channel.status,
    deposit: toJsonAmount(channel.deposit),
    paid: toJsonAmount(channel.paid),
    sequence_number: toJsonAmount(channel.sequenceNumber),
    expires_at: channel.expiresAt.toISOString(),
    created_at: channel.createdAt.toISOString(),
    closed_at: channel.closedAt?.toISOString() ?? null,
    settled_amount: optionalAmount(channel.settledAmount),
    refunded_amount: optionalAmount(channel.refundedAmount),
  };
}

export function encodeEscrow(escrow: EscrowRecord): Escrow {
  return {
    task_id: escrow.taskId,
    payer_did: escrow.payerDid,
    amount: toJsonAmount(escrow.amount),
    status: escrow.status,
    payee_did: escrow.payeeDid,
    captured_amount: optionalAmount(escrow.capturedAmount),
    returned_amount: optionalAmount(escrow.returnedAmount),
    created_at: escrow.createdAt.toISOString(),
    settled_at: escrow.settledAt?.toISOString() ?? null,
  };
}

/** One ledger entry of an account's `available` or `held` book, as its owner sees it. */
export function encodeHistoryItem(entry: {
  id: bigint;
  transferId: string;
  book: string;
  amount: bigint;
  createdAt: Date;
  transfer: { kind: string; referenceId: string | null };
}) {
  return {
    id: entry.id.toString(),
    transfer_id: entry.transferId,
    kind: entry.transfer.kind as TransferKind,
    book: entry.book as 'available' | 'held',
    amount: toJsonAmount(entry.amount),
    reference_id: entry.transfer.referenceId,
    created_at: entry.createdAt.toISOString(),
  };
}
