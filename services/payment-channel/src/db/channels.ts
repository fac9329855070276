import { uuidV7 } from '@zerostate/database';
import type pg from 'pg';
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

interface ChannelRow {
  id: string;
  payer_account_id: string;
  payer_did: string;
  payee_account_id: string;
  payee_did: string;
  status: ChannelState['status'];
  // Amounts come back as bigint through Prisma and as decimal strings through pg.
  deposit: bigint | string;
  paid: bigint | string;
  locked: bigint | string;
  sequence_number: bigint | string;
  expires_at: Date;
  created_at: Date;
  closed_at: Date | null;
  settled_amount: bigint | string | null;
  refunded_amount: bigint | string | null;
  accepted: boolean;
}

/**
 * Accepts a payment if the channel allows it, in ONE statement (a payment is the hot path, and
 * one round trip without an interactive transaction is several times cheaper): the row is locked,
 * updated, and the payment recorded in `channel_transactions`. The rule is `decideChannelPayment`
 * (domain/channel-rules.ts), which the caller applies to the row this answers; the WHERE clause
 * repeats it (with the caller's clock, so both agree) only so the check and the update are one
 * atomic step.
 */
const applyPaymentSql = `
WITH current AS (
  SELECT * FROM payment_channels WHERE id = $1::uuid FOR UPDATE
), accepted AS (
  UPDATE payment_channels AS channel
  SET paid = $2::bigint, sequence_number = $3::bigint, updated_at = $4::timestamptz
  FROM current
  WHERE channel.id = current.id AND current.payer_did = $5 AND current.status = 'open'
    AND current.expires_at > $4::timestamptz AND current.sequence_number < $3::bigint
    AND current.paid < $2::bigint AND current.deposit >= $2::bigint
  RETURNING channel.id, current.paid AS previous_paid
), recorded AS (
  INSERT INTO channel_transactions (id, channel_id, sequence_number, amount, delta, signature, request_id, created_at)
  SELECT $6::uuid, id, $3::bigint, $2::bigint, $2::bigint - previous_paid, $7, $8, $4::timestamptz
  FROM accepted
  RETURNING 1
)
SELECT current.id::text AS id, current.payer_account_id::text AS payer_account_id, current.payer_did,
       current.payee_account_id::text AS payee_account_id, current.payee_did, current.status,
       current.deposit, current.paid, current.locked, current.sequence_number, current.expires_at,
       current.created_at, current.closed_at, current.settled_amount, current.refunded_amount,
       EXISTS (SELECT 1 FROM recorded) AS accepted
FROM current`;

/**
 * Runs the payment statement above and answers the channel as it was before and whether the
 * payment was accepted; null when no such channel exists. Atomic on its own, and also correct
 * inside a caller's transaction. Given the pool (no transaction around it: a payment without an
 * Idempotency-Key), it runs as a named statement, parsed and planned once per connection; given
 * Prisma or a Prisma transaction (a keyed payment stores its answer in the same transaction), the
 * same text runs through Prisma.
 */
export async function applyPayment(
  db: Reader | pg.Pool,
  payment: {
    channelId: string;
    payerDid: string;
    amount: bigint;
    sequenceNumber: bigint;
    signature?: string | undefined;
    requestId: string;
    now: Date;
  },
): Promise<{ before: ChannelRecord; accepted: boolean } | null> {
  const values = [
    payment.channelId,
    payment.amount.toString(),
    payment.sequenceNumber.toString(),
    // An ISO string with its zone: both drivers pass it through untouched, so both mean the same
    // instant whatever the session's TimeZone (Prisma's adapter sends a Date without a zone).
    payment.now.toISOString(),
    payment.payerDid,
    uuidV7(),
    payment.signature ?? null,
    payment.requestId.slice(0, 128),
  ];
  const rows =
    '$queryRawUnsafe' in db
      ? await db.$queryRawUnsafe<ChannelRow[]>(applyPaymentSql, ...values)
      : (await db.query<ChannelRow>({ name: 'payment_apply_channel_payment', text: applyPaymentSql, values }))
          .rows;
  const row = rows[0];
  if (!row) return null;
  return {
    accepted: row.accepted,
    before: {
      id: row.id,
      payerAccountId: row.payer_account_id,
      payerDid: row.payer_did,
      payeeAccountId: row.payee_account_id,
      payeeDid: row.payee_did,
      status: row.status,
      deposit: BigInt(row.deposit),
      paid: BigInt(row.paid),
      locked: BigInt(row.locked),
      sequenceNumber: BigInt(row.sequence_number),
      expiresAt: row.expires_at,
      createdAt: row.created_at,
      closedAt: row.closed_at,
      settledAmount: row.settled_amount === null ? null : BigInt(row.settled_amount),
      refundedAmount: row.refunded_amount === null ? null : BigInt(row.refunded_amount),
    },
  };
}

export async function markChannelClosed(
  transaction: Transaction,
  close: {
    channelId: string;
    status: 'closed' | 'expired';
    settled: bigint;
    refunded: bigint;
    closedByDid: string | null;
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
