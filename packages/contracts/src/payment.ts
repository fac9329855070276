import { z } from 'zod';
import { pageOf, pageRequest, timestamp, uuid } from './common.js';
import { defineEndpoint, defineEvent } from './endpoint.js';

/** 1 credit (ZSC) is 1,000,000 micro-credits; every amount in the API is micro-credits. */
export const microPerCredit = 1_000_000;
/** The seed's no-KYC cap: at most 10,000 credits per deposit. */
export const depositMaxMicro = 10_000 * microPerCredit;
/** Channels live at most 30 days; 24 hours unless the payer says otherwise. */
export const channelLifetimeMaxSeconds = 30 * 86_400;
export const channelLifetimeDefaultSeconds = 86_400;

/** A positive amount of micro-credits: a JSON integer, never a float or a string. */
const amountMicro = z.int().min(1).max(Number.MAX_SAFE_INTEGER);
const balanceMicro = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Aggregates over many accounts can exceed 2^53, so reports carry them as decimal strings. */
const aggregateMicro = z.string().regex(/^-?\d{1,30}$/);

/**
 * A DID in one of the forms the platform issues: `did:zerostate:user:<uuid>` and
 * `did:zerostate:agent:<uuid>` (lower-case uuid), or `did:key:z<base58btc>`. One spelling per
 * principal, so a typo or a change of case cannot open a second account that nobody controls.
 */
export const didSchema = z
  .string()
  .max(200)
  .regex(
    /^(did:zerostate:(user|agent):[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|did:key:z[1-9A-HJ-NP-Za-km-z]{32,128})$/,
    'must be a platform DID: did:zerostate:user:<uuid>, did:zerostate:agent:<uuid> or did:key:z…',
  );

/**
 * Who may be paid: a user DID only. Nobody can sign in as an agent DID (`did:zerostate:agent:…`,
 * `did:key:…`), so money paid to one could never be withdrawn or its channel closed by its
 * payee; agents are paid through their owner's account (SPEC §4.4: the cleared price goes to the
 * agent's owner) until agents can control accounts of their own.
 */
export const payeeDidSchema = z
  .string()
  .max(200)
  .regex(
    /^did:zerostate:user:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    "must be a user DID (did:zerostate:user:<uuid>): agents are paid through their owner's account",
  );

export const transferKinds = [
  'deposit',
  'withdrawal',
  'channel_funding',
  'channel_settlement',
  'channel_refund',
  'escrow_hold',
  'escrow_capture',
  'escrow_return',
  'escrow_refund',
] as const;
export const transferKindSchema = z.enum(transferKinds);
export type TransferKind = z.infer<typeof transferKindSchema>;

export const channelStatuses = ['open', 'closed', 'expired'] as const;
export const escrowStatuses = ['held', 'captured', 'refunded'] as const;

export const balanceSchema = z.object({
  owner_did: z.string(),
  currency: z.literal('ZSC'),
  /** Spendable now. */
  available: balanceMicro,
  /** Held in escrow for tasks. */
  held: balanceMicro,
  /** Locked in open channels this account pays from. */
  in_channels: balanceMicro,
  total_deposited: balanceMicro,
  total_withdrawn: balanceMicro,
});
export type Balance = z.infer<typeof balanceSchema>;

export const transferResultSchema = z.object({
  transfer_id: uuid,
  kind: transferKindSchema,
  amount: amountMicro,
  created_at: timestamp,
  balance: balanceSchema,
});

export const historyItemSchema = z.object({
  id: z.string(),
  transfer_id: uuid,
  kind: transferKindSchema,
  /** Which balance moved: spendable (`available`) or escrow (`held`). */
  book: z.enum(['available', 'held']),
  /** Signed: negative when money left this balance. */
  amount: z.int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
  reference_id: z.string().nullable(),
  created_at: timestamp,
});

export const channelSchema = z.object({
  id: uuid,
  payer_did: z.string(),
  payee_did: z.string(),
  status: z.enum(channelStatuses),
  /** What the payer locked when opening. */
  deposit: amountMicro,
  /** Cumulative amount paid so far; the payee receives it on close. */
  paid: balanceMicro,
  sequence_number: balanceMicro,
  expires_at: timestamp,
  created_at: timestamp,
  closed_at: timestamp.nullable(),
  settled_amount: balanceMicro.nullable(),
  refunded_amount: balanceMicro.nullable(),
});
export type Channel = z.infer<typeof channelSchema>;

export const escrowSchema = z.object({
  task_id: uuid,
  payer_did: z.string(),
  amount: amountMicro,
  status: z.enum(escrowStatuses),
  payee_did: z.string().nullable(),
  captured_amount: balanceMicro.nullable(),
  returned_amount: balanceMicro.nullable(),
  created_at: timestamp,
  settled_at: timestamp.nullable(),
});
export type Escrow = z.infer<typeof escrowSchema>;

/** At most this many history entries and channels are exported; `truncated` says when more exist. */
export const accountExportLimit = 10_000;

export const accountExportSchema = z.object({
  balance: balanceSchema,
  closed_at: timestamp.nullable(),
  history: z.array(historyItemSchema),
  channels: z.array(channelSchema),
  truncated: z.boolean(),
});
export type AccountExport = z.infer<typeof accountExportSchema>;

export const invariantNames = [
  'transfer_balanced',
  'transfer_matches_kind',
  'account_matches_ledger',
  'channel_matches_ledger',
  'channel_matches_payments',
  'escrow_matches_ledger',
  'money_conserved',
  'no_negative_balance',
  'no_duplicate_transfer',
] as const;

export const reconciliationReportSchema = z.object({
  checked_at: timestamp,
  ok: z.boolean(),
  violations: z.array(
    z.object({
      invariant: z.enum(invariantNames),
      subject: z.string().nullable(),
      detail: z.string(),
    }),
  ),
  totals: z.object({
    deposited: aggregateMicro,
    withdrawn: aggregateMicro,
    available: aggregateMicro,
    held: aggregateMicro,
    in_channels: aggregateMicro,
  }),
});
export type ReconciliationReport = z.infer<typeof reconciliationReportSchema>;

/** A UTC calendar day; Postgres has no year 0. */
const day = z.iso.date().refine((value) => !value.startsWith('0000'), 'the year must be 0001 or later');

const channelId = { id: uuid };
/** Task ids are stored and referenced lower-case, whatever case the caller sent. */
const taskId = uuid.transform((value) => value.toLowerCase());

/** Errors every money-moving call may add to its own. */
const idempotencyErrors = ['IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_REQUEST_IN_PROGRESS'] as const;
const callerErrors = ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'INSUFFICIENT_SCOPE'] as const;

/**
 * The payment-channel service: accounts (one per owner DID), a double-entry ledger, payment
 * channels and task escrow. Callers act on their own account (the principal's DID); admins and
 * system principals may name another. Money-moving calls honour the gateway's Idempotency-Key.
 */
export const paymentEndpoints = {
  deposit: defineEndpoint({
    service: 'payment',
    name: 'deposit',
    request: z.strictObject({ amount: amountMicro.max(depositMaxMicro) }),
    response: transferResultSchema,
    errors: [...callerErrors, ...idempotencyErrors, 'ACCOUNT_LIMIT_EXCEEDED', 'ACCOUNT_CLOSED'],
    timeoutMs: 5_000,
  }),
  withdraw: defineEndpoint({
    service: 'payment',
    name: 'withdraw',
    request: z.strictObject({ amount: amountMicro }),
    response: transferResultSchema,
    errors: [...callerErrors, ...idempotencyErrors, 'INSUFFICIENT_FUNDS'],
    timeoutMs: 5_000,
  }),
  /** The caller's balance; admins and system principals may ask for any `owner_did`. */
  balance: defineEndpoint({
    service: 'payment',
    name: 'balance',
    request: z.strictObject({ owner_did: didSchema.optional() }),
    response: balanceSchema,
    errors: [...callerErrors, 'NOT_FOUND'],
    timeoutMs: 2_000,
  }),
  history: defineEndpoint({
    service: 'payment',
    name: 'history',
    request: z.strictObject(pageRequest),
    response: pageOf(historyItemSchema),
    errors: [...callerErrors],
    timeoutMs: 2_000,
  }),
  openChannel: defineEndpoint({
    service: 'payment',
    name: 'channel.open',
    request: z.strictObject({
      payee_did: payeeDidSchema,
      amount: amountMicro,
      expires_in_seconds: z.int().min(60).max(channelLifetimeMaxSeconds).optional(),
    }),
    response: channelSchema,
    errors: [...callerErrors, ...idempotencyErrors, 'INSUFFICIENT_FUNDS', 'CONFLICT', 'ACCOUNT_CLOSED'],
    timeoutMs: 5_000,
  }),
  getChannel: defineEndpoint({
    service: 'payment',
    name: 'channel.get',
    request: z.strictObject(channelId),
    response: channelSchema,
    errors: [...callerErrors, 'NOT_FOUND'],
    timeoutMs: 2_000,
  }),
  listChannels: defineEndpoint({
    service: 'payment',
    name: 'channel.list',
    request: z.strictObject({
      ...pageRequest,
      role: z.enum(['payer', 'payee']).optional(),
      status: z.enum(channelStatuses).optional(),
    }),
    response: pageOf(channelSchema),
    errors: [...callerErrors],
    timeoutMs: 2_000,
  }),
  /** The payer raises the cumulative amount; `sequence_number` must exceed every earlier one. */
  payChannel: defineEndpoint({
    service: 'payment',
    name: 'channel.pay',
    request: z.strictObject({
      ...channelId,
      amount: amountMicro,
      sequence_number: amountMicro,
      signature: z.string().min(1).max(512).optional(),
    }),
    response: channelSchema,
    errors: [
      ...callerErrors,
      ...idempotencyErrors,
      'NOT_FOUND',
      'FORBIDDEN',
      'CHANNEL_CLOSED',
      'CHANNEL_EXPIRED',
      'STALE_SEQUENCE_NUMBER',
      'CHANNEL_AMOUNT_INVALID',
    ],
    timeoutMs: 5_000,
  }),
  /**
   * Pays the payee the cumulative amount and returns the rest to the payer. The payee may close
   * at any time; the payer only after `expires_at` (reclaiming the unpaid rest).
   */
  closeChannel: defineEndpoint({
    service: 'payment',
    name: 'channel.close',
    request: z.strictObject(channelId),
    response: channelSchema,
    errors: [
      ...callerErrors,
      ...idempotencyErrors,
      'NOT_FOUND',
      'CHANNEL_CLOSED',
      'CHANNEL_NOT_EXPIRED',
      'ACCOUNT_LIMIT_EXCEEDED',
    ],
    timeoutMs: 5_000,
  }),
  /** Internal (the task service as itself, or an admin session): moves a task's budget from available into held. */
  holdEscrow: defineEndpoint({
    service: 'payment',
    name: 'escrow.hold',
    request: z.strictObject({ task_id: taskId, payer_did: didSchema, amount: amountMicro }),
    response: escrowSchema,
    errors: [...callerErrors, 'FORBIDDEN', 'INSUFFICIENT_FUNDS', 'ESCROW_CONFLICT'],
    timeoutMs: 5_000,
    callers: ['task'],
  }),
  /** Internal: pays `amount` of the hold to the payee and returns the rest to the payer; once. */
  captureEscrow: defineEndpoint({
    service: 'payment',
    name: 'escrow.capture',
    request: z.strictObject({ task_id: taskId, payee_did: payeeDidSchema, amount: z.int().min(0) }),
    response: escrowSchema,
    errors: [
      ...callerErrors,
      'FORBIDDEN',
      'NOT_FOUND',
      'ESCROW_CONFLICT',
      'ACCOUNT_LIMIT_EXCEEDED',
      'ACCOUNT_CLOSED',
    ],
    timeoutMs: 5_000,
    callers: ['task'],
  }),
  /** Internal: returns the whole hold to the payer; once, and never after a capture. */
  refundEscrow: defineEndpoint({
    service: 'payment',
    name: 'escrow.refund',
    request: z.strictObject({ task_id: taskId }),
    response: escrowSchema,
    errors: [...callerErrors, 'FORBIDDEN', 'NOT_FOUND', 'ESCROW_CONFLICT'],
    timeoutMs: 5_000,
    callers: ['task'],
  }),
  /**
   * Internal (the auth service as itself, erasing its user): closes the user's account for good.
   * Only an empty account closes (nothing available or held, no open channel as payer or payee);
   * a closed one takes no money again. Closing a closed account answers it again.
   */
  closeAccount: defineEndpoint({
    service: 'payment',
    name: 'account.close',
    request: z.strictObject({ owner_did: payeeDidSchema }),
    response: z.object({ owner_did: z.string(), closed_at: timestamp }),
    errors: ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN', 'ACCOUNT_NOT_EMPTY'],
    timeoutMs: 5_000,
    callers: ['auth'],
  }),
  /**
   * Internal (the auth service as itself, for its user's data export): the balance, the newest
   * ledger entries and channels, and whether either list was cut at its limit.
   */
  exportAccount: defineEndpoint({
    service: 'payment',
    name: 'account.export',
    request: z.strictObject({ owner_did: payeeDidSchema }),
    response: accountExportSchema,
    errors: ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN'],
    timeoutMs: 10_000,
    callers: ['auth'],
  }),
  /** Admin: checks every ledger invariant now and records the run. */
  reconcile: defineEndpoint({
    service: 'payment',
    name: 'reconciliation.run',
    request: z.strictObject({}),
    response: reconciliationReportSchema,
    errors: ['UNAUTHENTICATED', 'FORBIDDEN'],
    timeoutMs: 30_000,
  }),
  /** Admin: the `payment_statistics` view, one row per UTC day, newest first. */
  statistics: defineEndpoint({
    service: 'payment',
    name: 'statistics',
    request: z.strictObject({ from: day.optional(), to: day.optional() }),
    response: z.object({
      items: z.array(
        z.object({
          day,
          transactions: z.int().min(0),
          deposits: aggregateMicro,
          withdrawals: aggregateMicro,
          settlements: aggregateMicro,
          refunds: aggregateMicro,
          average_settlement: aggregateMicro,
        }),
      ),
    }),
    errors: ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'FORBIDDEN'],
    timeoutMs: 5_000,
  }),
} as const;

const moneyMoved = z.object({
  transfer_id: uuid,
  owner_did: z.string(),
  amount: amountMicro,
});

export const paymentEvents = {
  depositCompleted: defineEvent('evt.payment.deposit.completed', moneyMoved),
  withdrawalCompleted: defineEvent('evt.payment.withdrawal.completed', moneyMoved),
  channelOpened: defineEvent(
    'evt.payment.channel.opened',
    z.object({ channel_id: uuid, payer_did: z.string(), payee_did: z.string(), deposit: amountMicro }),
  ),
  channelClosed: defineEvent(
    'evt.payment.channel.closed',
    z.object({
      channel_id: uuid,
      status: z.enum(channelStatuses),
      settled_amount: balanceMicro,
      refunded_amount: balanceMicro,
    }),
  ),
  escrowHeld: defineEvent(
    'evt.payment.escrow.held',
    z.object({ task_id: uuid, payer_did: z.string(), amount: amountMicro }),
  ),
  escrowCaptured: defineEvent(
    'evt.payment.escrow.captured',
    z.object({
      task_id: uuid,
      payee_did: z.string(),
      captured_amount: balanceMicro,
      returned_amount: balanceMicro,
    }),
  ),
  escrowRefunded: defineEvent(
    'evt.payment.escrow.refunded',
    z.object({ task_id: uuid, amount: amountMicro }),
  ),
  accountClosed: defineEvent(
    'evt.payment.account.closed',
    z.object({ owner_did: z.string(), closed_at: timestamp }),
  ),
  invariantViolated: defineEvent(
    'evt.payment.invariant.violated',
    z.object({ run_id: uuid, violations: z.int().min(1) }),
  ),
} as const;
