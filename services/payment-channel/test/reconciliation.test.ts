import { randomUUID } from 'node:crypto';
import { paymentEndpoints } from '@zerostate/contracts';
import { createLogger, createRegistry } from '@zerostate/observability';
import { createService } from '@zerostate/service-kit';
import { metricTotal, readStreamMessages, waitUntil } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import paymentService from '../src/service.js';
import { credits, type Harness, scalar, startHarness, taskService, userPrincipal } from './harness.js';

describe('reconciliation', () => {
  let harness: Harness;
  const admin = userPrincipal({ admin: true });

  beforeAll(async () => {
    harness = await startHarness({
      name: 'payment_reconciliation',
      env: { RECONCILIATION_INTERVAL_MS: '1000' },
    });
  });
  afterAll(async () => harness?.stop());

  const violationsCounted = async () =>
    metricTotal(await harness.registry.metrics(), 'payment_balance_invariant_violations_total');

  it('when the service runs, then the periodic job records a scheduled run with no violations', async () => {
    const user = userPrincipal();
    await harness.call(paymentEndpoints.deposit, { amount: credits(3) }, user);
    await waitUntil(
      'a scheduled reconciliation run',
      async () =>
        Number(
          await scalar(harness.db, `SELECT count(*) FROM reconciliation_runs WHERE trigger = 'scheduled'`),
        ) > 0,
    );
    expect(await scalar(harness.db, `SELECT max(violations) FROM reconciliation_runs`)).toBe('0');
    expect(
      metricTotal(await harness.registry.metrics(), 'payment_reconciliation_last_run_timestamp_seconds'),
    ).toBeGreaterThan(0);
  });

  it('when a caller is not an admin with a session, then the report is refused', async () => {
    expect(await harness.failure(paymentEndpoints.reconcile, {}, userPrincipal())).toBe('FORBIDDEN');
    const adminKey = { ...userPrincipal({ admin: true, scopes: ['payments:read'] }) };
    expect(await harness.failure(paymentEndpoints.reconcile, {}, adminKey)).toBe('FORBIDDEN');
    expect(await harness.failure(paymentEndpoints.reconcile, {})).toBe('UNAUTHENTICATED');
    expect(await harness.failure(paymentEndpoints.statistics, {}, userPrincipal())).toBe('FORBIDDEN');
  });

  it('when a cached balance disagrees with the ledger, then the run reports it, counts it, records it and emits an event', async () => {
    const user = userPrincipal();
    await harness.call(paymentEndpoints.deposit, { amount: credits(2) }, user);
    const countedBefore = await violationsCounted();
    await harness.db.query('UPDATE accounts SET available = available + 5 WHERE owner_did = $1', [user.did]);
    try {
      const report = await harness.call(paymentEndpoints.reconcile, {}, admin);
      expect(report.ok).toBe(false);
      expect(report.violations.map((violation) => violation.invariant).sort()).toEqual([
        'account_matches_ledger',
        'money_conserved',
      ]);
      expect(
        report.violations.find((violation) => violation.invariant === 'account_matches_ledger')?.subject,
      ).toBe(user.did);
      expect(await violationsCounted()).toBe(countedBefore + 2);
      const stored = await harness.db.query(
        `SELECT id, violations FROM reconciliation_runs WHERE trigger = 'manual' ORDER BY created_at DESC LIMIT 1`,
      );
      expect(stored.rows[0].violations).toBe(2);
      const events = await readStreamMessages(harness.nc, {
        stream: 'EVENTS',
        subject: 'evt.payment.invariant.violated',
        count: 1,
      });
      expect(events[0]?.body).toMatchObject({ data: { run_id: stored.rows[0].id, violations: 2 } });
      expect(
        await scalar(
          harness.db,
          `SELECT count(*) FROM audit_log WHERE action = 'payment.reconciliation.run' AND actor_did = $1`,
          [admin.did],
        ),
      ).not.toBe('0');
    } finally {
      await harness.db.query('UPDATE accounts SET available = available - 5 WHERE owner_did = $1', [
        user.did,
      ]);
    }
    expect((await harness.call(paymentEndpoints.reconcile, {}, admin)).ok).toBe(true);
  });

  it('when an escrow is marked refunded without moving money back, then the run reports it', async () => {
    const payer = await harness.funded(credits(5));
    const taskId = randomUUID();
    await harness.call(
      paymentEndpoints.holdEscrow,
      { task_id: taskId, payer_did: payer.did, amount: credits(4) },
      taskService(),
    );
    await harness.db.query(
      `UPDATE escrows SET status = 'refunded', returned_amount = amount WHERE task_id = $1`,
      [taskId],
    );
    try {
      const report = await harness.call(paymentEndpoints.reconcile, {}, admin);
      const escrowViolations = report.violations.filter(
        (violation) => violation.invariant === 'escrow_matches_ledger',
      );
      expect(escrowViolations.map((violation) => violation.subject).sort()).toEqual(
        [payer.did, taskId].sort(),
      );
    } finally {
      await harness.db.query(
        `UPDATE escrows SET status = 'held', returned_amount = NULL WHERE task_id = $1`,
        [taskId],
      );
    }
    await harness.expectReconciled();
  });

  it('when a channel claims more paid than its accepted payments, then the run reports it', async () => {
    const payer = await harness.funded(credits(10));
    const payee = userPrincipal();
    const channel = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: payee.did, amount: credits(10) },
      payer,
    );
    await harness.call(
      paymentEndpoints.payChannel,
      { id: channel.id, amount: 100, sequence_number: 1 },
      payer,
    );
    await harness.db.query('UPDATE payment_channels SET paid = deposit WHERE id = $1', [channel.id]);
    try {
      const report = await harness.call(paymentEndpoints.reconcile, {}, admin);
      expect(report.violations.map((violation) => [violation.invariant, violation.subject])).toEqual([
        ['channel_matches_payments', channel.id],
      ]);
    } finally {
      await harness.db.query('UPDATE payment_channels SET paid = 100 WHERE id = $1', [channel.id]);
    }
    await harness.expectReconciled();
  });

  it('when a transfer is missing its credit entry, then the run reports it unbalanced', async () => {
    const user = userPrincipal();
    const deposit = await harness.call(paymentEndpoints.deposit, { amount: 10 }, user);
    const account = await scalar(harness.db, 'SELECT id FROM accounts WHERE owner_did = $1', [user.did]);
    // The ledger is append-only, so the damage is an extra one-sided transfer, not an edit.
    const broken = randomUUID();
    await harness.db.query(`INSERT INTO transfers (id, kind, amount) VALUES ($1, 'deposit', 10)`, [broken]);
    await harness.db.query(
      `INSERT INTO ledger_entries (transfer_id, account_id, book, amount) VALUES ($1, $2, 'external', -10)`,
      [broken, account],
    );
    const report = await harness.call(paymentEndpoints.reconcile, {}, admin);
    const unbalanced = report.violations.filter((violation) => violation.invariant === 'transfer_balanced');
    expect(unbalanced.map((violation) => violation.subject)).toEqual([broken]);
    expect(report.violations.some((violation) => violation.subject === deposit.transfer_id)).toBe(false);
  });

  it('when a deposit credits another account than it debits, then the run reports it misdirected', async () => {
    const [from, to] = [await harness.funded(10), await harness.funded(10)];
    const [fromAccount, toAccount] = await Promise.all(
      [from, to].map((user) =>
        scalar(harness.db, 'SELECT id FROM accounts WHERE owner_did = $1', [user.did]),
      ),
    );
    const misdirected = randomUUID();
    await harness.db.query(`INSERT INTO transfers (id, kind, amount) VALUES ($1, 'deposit', 10)`, [
      misdirected,
    ]);
    await harness.db.query(
      `INSERT INTO ledger_entries (transfer_id, account_id, book, amount)
       VALUES ($1, $2, 'external', -10), ($1, $3, 'available', 10)`,
      [misdirected, fromAccount, toAccount],
    );
    const report = await harness.call(paymentEndpoints.reconcile, {}, admin);
    const kinds = report.violations.filter((violation) => violation.invariant === 'transfer_matches_kind');
    // The one-legged transfer of the test before is misdirected too; every real transfer is not.
    expect(kinds.map((violation) => violation.subject)).toContain(misdirected);
    expect(kinds).toHaveLength(2);
  });
});

describe('reconciliation with several replicas', () => {
  let harness: Harness;

  beforeAll(async () => {
    // An hour between runs: only the runs this test asks for happen.
    harness = await startHarness({
      name: 'payment_replicas',
      env: { RECONCILIATION_INTERVAL_MS: '3600000' },
    });
  });
  afterAll(async () => harness?.stop());

  it('when four replicas find the reconciliation job due at once, then exactly one checks and none repeats it within the interval', async () => {
    const others = Array.from({ length: 3 }, () =>
      createService(paymentService, {
        env: harness.env,
        logger: createLogger({ service: 'payment-channel', level: 'silent' }),
        registry: createRegistry('payment'),
        nc: harness.nc,
      }),
    );
    await Promise.all(others.map((replica) => replica.start()));
    try {
      const replicas = [harness.service, ...others];
      // As if the hour had passed: the job's next run is due now.
      await harness.db.query(`UPDATE periodic_jobs SET next_run_at = now() WHERE name = 'reconciliation'`);
      const ran = await Promise.all(replicas.map((replica) => replica.jobs().tick('reconciliation')));
      expect(ran.filter(Boolean)).toHaveLength(1);
      expect(
        await scalar(harness.db, `SELECT count(*) FROM reconciliation_runs WHERE trigger = 'scheduled'`),
      ).toBe('1');
      const again = await Promise.all(replicas.map((replica) => replica.jobs().tick('reconciliation')));
      expect(again.some(Boolean)).toBe(false);
      expect(await scalar(harness.db, `SELECT count(*) FROM reconciliation_runs`)).toBe('1');
    } finally {
      await Promise.all(others.map((replica) => replica.stop()));
    }
  });
});
