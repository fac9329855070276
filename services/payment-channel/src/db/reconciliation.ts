import type { ReconciliationReport } from '@zerostate/contracts';
import type { Transaction } from './prisma.js';

type Violation = ReconciliationReport['violations'][number];
type Totals = ReconciliationReport['totals'];

/** Each check reports at most this many offenders; the count is what alerts. */
const offendersMax = 100;

/**
 * Every transfer has exactly two entries, a debit and a credit of its amount: debits = credits.
 */
async function unbalancedTransfers(transaction: Transaction): Promise<Violation[]> {
  const rows = await transaction.$queryRaw<{ id: string; entries: bigint; net: bigint }[]>`
    SELECT t.id::text AS id, count(e.id) AS entries, coalesce(sum(e.amount), 0) AS net
    FROM transfers t LEFT JOIN ledger_entries e ON e.transfer_id = t.id
    GROUP BY t.id, t.amount
    HAVING count(e.id) <> 2 OR coalesce(sum(e.amount), 0) <> 0
        OR coalesce(max(e.amount), 0) <> t.amount OR coalesce(min(e.amount), 0) <> -t.amount
    LIMIT ${offendersMax}`;
  return rows.map((row) => ({
    invariant: 'transfer_balanced',
    subject: row.id,
    detail: `transfer has ${row.entries} entries summing to ${row.net}`,
  }));
}

/** An account's cached balances equal the sums of its books' entries. */
async function accountsOffLedger(transaction: Transaction): Promise<Violation[]> {
  const rows = await transaction.$queryRaw<
    {
      owner_did: string;
      available: bigint;
      held: bigint;
      net: bigint;
      l_available: bigint;
      l_held: bigint;
      l_net: bigint;
    }[]
  >`
    SELECT a.owner_did, a.available, a.held, a.total_deposited - a.total_withdrawn AS net,
           coalesce(l.available, 0) AS l_available, coalesce(l.held, 0) AS l_held, -coalesce(l.external, 0) AS l_net
    FROM accounts a
    LEFT JOIN (
      SELECT account_id,
             sum(amount) FILTER (WHERE book = 'available') AS available,
             sum(amount) FILTER (WHERE book = 'held') AS held,
             sum(amount) FILTER (WHERE book = 'external') AS external
      FROM ledger_entries WHERE account_id IS NOT NULL GROUP BY account_id
    ) l ON l.account_id = a.id
    WHERE a.available <> coalesce(l.available, 0) OR a.held <> coalesce(l.held, 0)
       OR a.total_deposited - a.total_withdrawn <> -coalesce(l.external, 0)
    LIMIT ${offendersMax}`;
  return rows.map((row) => ({
    invariant: 'account_matches_ledger',
    subject: row.owner_did,
    detail:
      `account says available ${row.available}, held ${row.held}, net deposits ${row.net}; ` +
      `ledger says ${row.l_available}, ${row.l_held}, ${row.l_net}`,
  }));
}

/** A channel's locked funds equal the sum of its book's entries. */
async function channelsOffLedger(transaction: Transaction): Promise<Violation[]> {
  const rows = await transaction.$queryRaw<{ id: string; locked: bigint; ledger: bigint }[]>`
    SELECT c.id::text AS id, c.locked, coalesce(l.total, 0) AS ledger
    FROM payment_channels c
    LEFT JOIN (SELECT channel_id, sum(amount) AS total FROM ledger_entries
               WHERE channel_id IS NOT NULL GROUP BY channel_id) l ON l.channel_id = c.id
    WHERE c.locked <> coalesce(l.total, 0)
    LIMIT ${offendersMax}`;
  return rows.map((row) => ({
    invariant: 'channel_matches_ledger',
    subject: row.id,
    detail: `channel locks ${row.locked}; its ledger book holds ${row.ledger}`,
  }));
}

/** No balance below zero, and no channel paid beyond its deposit. */
async function negativeBalances(transaction: Transaction): Promise<Violation[]> {
  const rows = await transaction.$queryRaw<{ subject: string; detail: string }[]>`
    (SELECT owner_did AS subject, 'available ' || available || ', held ' || held AS detail
     FROM accounts WHERE available < 0 OR held < 0 LIMIT ${offendersMax})
    UNION ALL
    (SELECT id::text, 'locked ' || locked || ', paid ' || paid || ' of ' || deposit
     FROM payment_channels WHERE locked < 0 OR paid < 0 OR paid > deposit LIMIT ${offendersMax})`;
  return rows.map((row) => ({ invariant: 'no_negative_balance', subject: row.subject, detail: row.detail }));
}

/** A one-time movement (per channel or task) applied more than once. */
async function duplicateTransfers(transaction: Transaction): Promise<Violation[]> {
  const rows = await transaction.$queryRaw<{ kind: string; reference_id: string | null; copies: bigint }[]>`
    SELECT kind, reference_id, count(*) AS copies FROM transfers
    WHERE kind NOT IN ('deposit', 'withdrawal')
    GROUP BY kind, reference_id HAVING count(*) > 1 OR reference_id IS NULL
    LIMIT ${offendersMax}`;
  return rows.map((row) => ({
    invariant: 'no_duplicate_transfer',
    subject: row.reference_id,
    detail: `${row.kind} applied ${row.copies} times`,
  }));
}

/**
 * Each transfer moves money between the books its kind allows: a deposit from the account's
 * `external` book to its own `available`, a channel funding from the payer's `available` to that
 * channel, an escrow capture from the payer's `held` to the payee's `available`, and so on.
 */
async function misdirectedTransfers(transaction: Transaction): Promise<Violation[]> {
  const rows = await transaction.$queryRaw<
    { id: string; kind: string; debit_book: string; credit_book: string }[]
  >`
    WITH legs AS (
      SELECT t.id, t.kind, t.reference_id,
             max(e.book) FILTER (WHERE e.amount < 0) AS debit_book,
             max(e.book) FILTER (WHERE e.amount > 0) AS credit_book,
             max(e.account_id::text) FILTER (WHERE e.amount < 0) AS debit_account,
             max(e.account_id::text) FILTER (WHERE e.amount > 0) AS credit_account,
             max(e.channel_id::text) FILTER (WHERE e.amount < 0) AS debit_channel,
             max(e.channel_id::text) FILTER (WHERE e.amount > 0) AS credit_channel
      FROM transfers t JOIN ledger_entries e ON e.transfer_id = t.id
      GROUP BY t.id, t.kind, t.reference_id
    ), expected (kind, debit_book, credit_book) AS (VALUES
      ('deposit', 'external', 'available'), ('withdrawal', 'available', 'external'),
      ('channel_funding', 'available', 'channel'), ('channel_settlement', 'channel', 'available'),
      ('channel_refund', 'channel', 'available'), ('escrow_hold', 'available', 'held'),
      ('escrow_capture', 'held', 'available'), ('escrow_return', 'held', 'available'),
      ('escrow_refund', 'held', 'available'))
    SELECT legs.id::text AS id, legs.kind, coalesce(legs.debit_book, '-') AS debit_book,
           coalesce(legs.credit_book, '-') AS credit_book
    FROM legs
    LEFT JOIN expected ON expected.kind = legs.kind AND expected.debit_book = legs.debit_book
                      AND expected.credit_book = legs.credit_book
    LEFT JOIN payment_channels c ON legs.kind LIKE 'channel%' AND c.id::text = legs.reference_id
    LEFT JOIN escrows w ON legs.kind LIKE 'escrow%' AND w.task_id::text = legs.reference_id
    LEFT JOIN accounts payee ON payee.id::text = legs.credit_account
    WHERE expected.kind IS NULL
       OR (legs.kind IN ('deposit', 'withdrawal', 'escrow_hold', 'escrow_return', 'escrow_refund')
           AND legs.debit_account IS DISTINCT FROM legs.credit_account)
       OR (legs.kind LIKE 'channel%' AND (c.id IS NULL
           OR coalesce(legs.debit_channel, legs.credit_channel) IS DISTINCT FROM c.id::text
           OR (legs.kind = 'channel_funding' AND legs.debit_account IS DISTINCT FROM c.payer_account_id::text)
           OR (legs.kind = 'channel_settlement' AND legs.credit_account IS DISTINCT FROM c.payee_account_id::text)
           OR (legs.kind = 'channel_refund' AND legs.credit_account IS DISTINCT FROM c.payer_account_id::text)))
       OR (legs.kind LIKE 'escrow%' AND (w.task_id IS NULL
           OR legs.debit_account IS DISTINCT FROM w.payer_account_id::text
           OR (legs.kind = 'escrow_capture' AND payee.owner_did IS DISTINCT FROM w.payee_did)))
    LIMIT ${offendersMax}`;
  return rows.map((row) => ({
    invariant: 'transfer_matches_kind',
    subject: row.id,
    detail: `${row.kind} moved money from ${row.debit_book} to ${row.credit_book} of the wrong book, account or reference`,
  }));
}

/**
 * A channel's `paid` and `sequence_number` are its latest accepted payment (the highest amount,
 * the sum of every rise, the highest sequence); it was funded with its deposit; and it was
 * settled exactly as its row says, once closed, and not at all while open.
 */
async function channelsOffPayments(transaction: Transaction): Promise<Violation[]> {
  const rows = await transaction.$queryRaw<{ id: string; detail: string }[]>`
    SELECT c.id::text AS id,
           'paid ' || c.paid || ', sequence ' || c.sequence_number || ', deposit ' || c.deposit
           || '; payments top ' || coalesce(p.top_amount, 0) || ', rises ' || coalesce(p.rises, 0)
           || ', sequence ' || coalesce(p.top_sequence, 0) || '; funded ' || coalesce(t.funded, 0)
           || ', settled ' || coalesce(t.settled, 0) || ', refunded ' || coalesce(t.refunded, 0) AS detail
    FROM payment_channels c
    LEFT JOIN (SELECT channel_id, max(amount) AS top_amount, sum(delta) AS rises, max(sequence_number) AS top_sequence
               FROM channel_transactions GROUP BY channel_id) p ON p.channel_id = c.id
    LEFT JOIN (SELECT reference_id,
                      sum(amount) FILTER (WHERE kind = 'channel_funding') AS funded,
                      sum(amount) FILTER (WHERE kind = 'channel_settlement') AS settled,
                      sum(amount) FILTER (WHERE kind = 'channel_refund') AS refunded
               FROM transfers WHERE kind IN ('channel_funding', 'channel_settlement', 'channel_refund')
               GROUP BY reference_id) t ON t.reference_id = c.id::text
    WHERE c.paid <> coalesce(p.top_amount, 0) OR c.paid <> coalesce(p.rises, 0)
       OR c.sequence_number <> coalesce(p.top_sequence, 0)
       OR c.deposit <> coalesce(t.funded, 0)
       OR (c.status = 'open' AND (t.settled IS NOT NULL OR t.refunded IS NOT NULL))
       OR (c.status <> 'open' AND (coalesce(t.settled, 0) IS DISTINCT FROM c.settled_amount
                                   OR coalesce(t.refunded, 0) IS DISTINCT FROM c.refunded_amount))
    LIMIT ${offendersMax}`;
  return rows.map((row) => ({ invariant: 'channel_matches_payments', subject: row.id, detail: row.detail }));
}

/**
 * An account's `held` is the sum of its escrows still held, and each escrow's transfers match its
 * state: held once; then nothing more, or the captured price and the returned rest, or the whole
 * amount refunded.
 */
async function escrowsOffLedger(transaction: Transaction): Promise<Violation[]> {
  const accounts = await transaction.$queryRaw<{ owner_did: string; held: bigint; escrowed: bigint }[]>`
    SELECT a.owner_did, a.held, coalesce(w.escrowed, 0) AS escrowed
    FROM accounts a
    LEFT JOIN (SELECT payer_account_id, sum(amount) AS escrowed FROM escrows WHERE status = 'held'
               GROUP BY payer_account_id) w ON w.payer_account_id = a.id
    WHERE a.held <> coalesce(w.escrowed, 0)
    LIMIT ${offendersMax}`;
  const escrows = await transaction.$queryRaw<{ task_id: string; detail: string }[]>`
    SELECT w.task_id::text AS task_id,
           w.status || ' escrow of ' || w.amount || '; held ' || coalesce(t.held, 0) || ', captured '
           || coalesce(t.captured, 0) || ', returned ' || coalesce(t.returned, 0) || ', refunded '
           || coalesce(t.refunded, 0) AS detail
    FROM escrows w
    LEFT JOIN (SELECT reference_id,
                      sum(amount) FILTER (WHERE kind = 'escrow_hold') AS held,
                      sum(amount) FILTER (WHERE kind = 'escrow_capture') AS captured,
                      sum(amount) FILTER (WHERE kind = 'escrow_return') AS returned,
                      sum(amount) FILTER (WHERE kind = 'escrow_refund') AS refunded
               FROM transfers WHERE kind LIKE 'escrow%' GROUP BY reference_id) t ON t.reference_id = w.task_id::text
    WHERE coalesce(t.held, 0) <> w.amount
       OR (w.status = 'held' AND (t.captured IS NOT NULL OR t.returned IS NOT NULL OR t.refunded IS NOT NULL))
       OR (w.status = 'captured' AND (coalesce(t.captured, 0) IS DISTINCT FROM w.captured_amount
                                      OR coalesce(t.returned, 0) IS DISTINCT FROM w.returned_amount
                                      OR t.refunded IS NOT NULL))
       OR (w.status = 'refunded' AND (coalesce(t.refunded, 0) <> w.amount OR t.captured IS NOT NULL
                                      OR t.returned IS NOT NULL))
    LIMIT ${offendersMax}`;
  return [
    ...accounts.map((row) => ({
      invariant: 'escrow_matches_ledger' as const,
      subject: row.owner_did,
      detail: `account holds ${row.held} but its held escrows add up to ${row.escrowed}`,
    })),
    ...escrows.map((row) => ({
      invariant: 'escrow_matches_ledger' as const,
      subject: row.task_id,
      detail: row.detail,
    })),
  ];
}

/** Σ deposits = Σ withdrawals + Σ available + Σ held + Σ channel balances. */
async function moneyTotals(transaction: Transaction): Promise<{ totals: Totals; violations: Violation[] }> {
  const rows = await transaction.$queryRaw<
    { deposited: string; withdrawn: string; available: string; held: string; in_channels: string }[]
  >`
    SELECT coalesce(sum(total_deposited), 0)::text AS deposited,
           coalesce(sum(total_withdrawn), 0)::text AS withdrawn,
           coalesce(sum(available), 0)::text AS available,
           coalesce(sum(held), 0)::text AS held,
           (SELECT coalesce(sum(locked), 0) FROM payment_channels)::text AS in_channels
    FROM accounts`;
  const totals = rows[0] as Totals;
  const [deposited, withdrawn, availableSum, heldSum, inChannels] = [
    totals.deposited,
    totals.withdrawn,
    totals.available,
    totals.held,
    totals.in_channels,
  ].map(BigInt) as [bigint, bigint, bigint, bigint, bigint];
  const accountedFor = withdrawn + availableSum + heldSum + inChannels;
  const violations: Violation[] =
    deposited === accountedFor
      ? []
      : [
          {
            invariant: 'money_conserved',
            subject: null,
            detail: `deposited ${deposited} but withdrawn + available + held + in channels is ${accountedFor}`,
          },
        ];
  return { totals, violations };
}

/**
 * Checks every invariant of SPEC §4.2, and that channel payments and escrows agree with the
 * ledger, inside the caller's transaction, which should be
 * REPEATABLE READ so all checks see one snapshot of the ledger.
 */
export async function checkInvariants(
  transaction: Transaction,
): Promise<{ violations: Violation[]; totals: Totals }> {
  const money = await moneyTotals(transaction);
  const violations = [
    ...(await unbalancedTransfers(transaction)),
    ...(await misdirectedTransfers(transaction)),
    ...(await accountsOffLedger(transaction)),
    ...(await channelsOffLedger(transaction)),
    ...(await channelsOffPayments(transaction)),
    ...(await escrowsOffLedger(transaction)),
    ...(await negativeBalances(transaction)),
    ...(await duplicateTransfers(transaction)),
    ...money.violations,
  ];
  return { violations, totals: money.totals };
}
