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
 * Checks every invariant of SPEC §4.2 inside the caller's transaction, which should be
 * REPEATABLE READ so all checks see one snapshot of the ledger.
 */
export async function checkInvariants(
  transaction: Transaction,
): Promise<{ violations: Violation[]; totals: Totals }> {
  const money = await moneyTotals(transaction);
  const violations = [
    ...(await unbalancedTransfers(transaction)),
    ...(await accountsOffLedger(transaction)),
    ...(await channelsOffLedger(transaction)),
    ...(await negativeBalances(transaction)),
    ...(await duplicateTransfers(transaction)),
    ...money.violations,
  ];
  return { violations, totals: money.totals };
}
