import { uuidV7 } from '@zerostate/database';
import type { ChannelState } from '../domain/channel-rules.js';
import type { PaymentPrisma, Transaction } from './prisma.js';

export interface ChannelRecord extends ChannelState {
  id: string;
  payerAccountId: string;
  payeeAccountId: string;
  locked: bigint;
  createdAt: Date;
  closedAt: Date | null;
  settledAmount: bigint | null;
  refundedAmount: bigint | null;
}

type Reader = PaymentPrisma | Transaction;

const channelColumns = {
  id: true,
  payerAccountId: true,
  payerDid: true,
  payeeAccountId: true,
  payeeDid: true,
  status: true,
  deposit: true,
  paid: true,
  locked: true,
  sequenceNumber: true,
  expiresAt: true,
  createdAt: true,
  closedAt: true,
  settledAmount: true,
  refundedAmount: true,
} as const;

function asRecord<Row extends { status: string }>(row: Row): Row & { status: ChannelState['status'] } {
  return row as Row & { status: ChannelState['status'] };
}

export async function findChannel(db: Reader, id: string): Promise<ChannelRecord | null> {
  const row = await db.paymentChannel.findUnique({ where: { id }, select: channelColumns });
  return row && asRecord(row);
}

/**
 * Reads a channel and locks its row for the rest of the transaction, so payments and a close
 * on one channel happen one after another.
 */
export async function lockChannel(transaction: Transaction, id: string): Promise<ChannelRecord | null> {
  const locked = await transaction.$queryRaw<{ id: string }[]>`
    SELECT id FROM payment_channels WHERE id = ${id}::uuid FOR UPDATE`;
  return locked.length === 0 ? null : findChannel(transaction, id);
}

export async function createChannel(
  transaction: Transaction,
  channel: {
    payerAccountId: string;
    payerDid: string;
    payeeAccountId: string;
    payeeDid: string;
    deposit: bigint;
    expiresAt: Date;
  },
): Promise<ChannelRecord> {
  const row = await transaction.paymentChannel.create({
    data: { id: uuidV7(), ...channel, status: 'open', locked: channel.deposit },
    select: channelColumns,
  });
  return asRecord(row);
}

/** Records an accepted payment: the channel's new state and the payment row, together. */
export async function recordPayment(
  transaction: Transaction,
  payment: {
    channelId: string;
    amount: bigint;
    delta: bigint;
    sequenceNumber: bigint;
    signature?: string | undefined;
    requestId: string;
  },
): Promise<ChannelRecord> {
  const row = await transaction.paymentChannel.update({
    where: { id: payment.channelId },
    data: { paid: payment.amount, sequenceNumber: payment.sequenceNumber, updatedAt: new Date() },
    select: channelColumns,
  });
  await transaction.channelTransaction.create({
    data: {
      id: uuidV7(),
      channelId: payment.channelId,
      sequenceNumber: payment.sequenceNumber,
      amount: payment.amount,
      delta: payment.delta,
      signature: payment.signature ?? null,
      requestId: payment.requestId.slice(0, 128),
    },
  });
  return asRecord(row);
}

export async function markChannelClosed(
  transaction: Transaction,
  close: {
    channelId: string;
    status: 'closed' | 'expired';
    settled: bigint;
    refunded: bigint;
    closedByDid: string;
    at: Date;
  },
): Promise<ChannelRecord> {
  const row = await transaction.paymentChannel.update({
    where: { id: close.channelId },
    data: {
      status: close.status,
      locked: 0n,
      settledAmount: close.settled,
      refundedAmount: close.refunded,
      closedAt: close.at,
      closedByDid: close.closedByDid,
      updatedAt: close.at,
    },
    select: channelColumns,
  });
  return asRecord(row);
}

/** Channels a DID pays from or is paid through, newest first (ids are UUID v7). */
export async function listChannels(
  db: Reader,
  query: {
    did: string;
    role?: 'payer' | 'payee' | undefined;
    status?: ChannelState['status'] | undefined;
    beforeId?: string | undefined;
    limit: number;
  },
): Promise<{ items: ChannelRecord[]; hasMore: boolean }> {
  const party =
    query.role === 'payer'
      ? { payerDid: query.did }
      : query.role === 'payee'
        ? { payeeDid: query.did }
        : { OR: [{ payerDid: query.did }, { payeeDid: query.did }] };
  const rows = await db.paymentChannel.findMany({
    where: {
      ...party,
      ...(query.status ? { status: query.status } : {}),
      ...(query.beforeId ? { id: { lt: query.beforeId } } : {}),
    },
    orderBy: { id: 'desc' },
    take: query.limit + 1,
    select: channelColumns,
  });
  return { items: rows.slice(0, query.limit).map(asRecord), hasMore: rows.length > query.limit };
}
