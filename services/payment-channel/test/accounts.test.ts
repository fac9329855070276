import { paymentEndpoints, type RequestOf } from '@zerostate/contracts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { credits, type Harness, scalar, startHarness, taskService, userPrincipal } from './harness.js';

/** Deposits, withdrawals, balances and history: a caller's own account, through NATS. */
describe('accounts', () => {
  let harness: Harness;
  const admin = userPrincipal({ admin: true });

  beforeAll(async () => {
    harness = await startHarness({ name: 'payment_accounts' });
  });
  afterAll(async () => harness?.stop());

  // SPEC §4.2: the invariants hold after every test.
  afterEach(async () => harness.expectReconciled());

  /** Rows in every table a money movement writes to. */
  async function rowCounts(): Promise<Record<string, string>> {
    const tables = ['accounts', 'transfers', 'ledger_entries', 'audit_log', 'outbox', 'idempotency_records'];
    const counts: Record<string, string> = {};
    for (const table of tables) counts[table] = await scalar(harness.db, `SELECT count(*) FROM ${table}`);
    return counts;
  }

  async function accountRows(did: string): Promise<number> {
    return Number(await scalar(harness.db, 'SELECT count(*) FROM accounts WHERE owner_did = $1', [did]));
  }

  const funded = (amount: number) => harness.funded(amount);

  describe('deposit', () => {
    const invalidDeposits: [string, unknown][] = [
      ['above the cap', { amount: 10_000_000_001 }],
      ['zero', { amount: 0 }],
      ['negative', { amount: -1_000_000 }],
      ['a fraction', { amount: 1.5 }],
      ['a string', { amount: '100' }],
      ['missing', {}],
      ['accompanied by an unknown field', { amount: 100, currency: 'ZSC' }],
    ];

    it.each(invalidDeposits)(
      'when the amount is %s, then VALIDATION_FAILED and nothing is written',
      async (_, input) => {
        const user = userPrincipal();
        const before = await rowCounts();

        const code = await harness.failure(
          paymentEndpoints.deposit,
          input as RequestOf<typeof paymentEndpoints.deposit>,
          user,
        );

        expect(code).toBe('VALIDATION_FAILED');
        expect(await rowCounts()).toEqual(before);
        expect(await accountRows(user.did)).toBe(0);
      },
    );

    it('when the amount is exactly the 10,000-credit cap, then it is credited', async () => {
      const user = userPrincipal();

      const result = await harness.call(paymentEndpoints.deposit, { amount: credits(10_000) }, user);

      expect(result.amount).toBe(10_000_000_000);
      expect(result.balance).toMatchObject({ available: 10_000_000_000, total_deposited: 10_000_000_000 });
      expect(await harness.call(paymentEndpoints.balance, {}, user)).toMatchObject({
        available: 10_000_000_000,
      });
    });

    it('when a deposit succeeds, then one transfer with two entries, an audit row and an outbox event are written', async () => {
      const user = userPrincipal();
      const before = await rowCounts();

      const result = await harness.call(paymentEndpoints.deposit, { amount: credits(7) }, user);

      expect(result).toMatchObject({
        kind: 'deposit',
        amount: credits(7),
        balance: {
          owner_did: user.did,
          currency: 'ZSC',
          available: credits(7),
          held: 0,
          in_channels: 0,
          total_deposited: credits(7),
          total_withdrawn: 0,
        },
      });
      const after = await rowCounts();
      expect(Number(after.transfers) - Number(before.transfers)).toBe(1);
      expect(Number(after.ledger_entries) - Number(before.ledger_entries)).toBe(2);
      expect(Number(after.audit_log) - Number(before.audit_log)).toBe(1);
      expect(Number(after.outbox) - Number(before.outbox)).toBe(1);

      const account = await harness.db.query(
        'SELECT id, available, total_deposited FROM accounts WHERE owner_did = $1',
        [user.did],
      );
      expect(account.rows).toEqual([
        { id: expect.any(String), available: String(credits(7)), total_deposited: String(credits(7)) },
      ]);
      const accountId = account.rows[0].id;
      const transfer = await harness.db.query(
        'SELECT kind, amount, reference_id, request_id FROM transfers WHERE id = $1',
        [result.transfer_id],
      );
      expect(transfer.rows).toEqual([
        { kind: 'deposit', amount: String(credits(7)), reference_id: null, request_id: expect.any(String) },
      ]);
      const entries = await harness.db.query(
        'SELECT book, account_id, channel_id, amount FROM ledger_entries WHERE transfer_id = $1 ORDER BY amount',
        [result.transfer_id],
      );
      expect(entries.rows).toEqual([
        { book: 'external', account_id: accountId, channel_id: null, amount: String(-credits(7)) },
        { book: 'available', account_id: accountId, channel_id: null, amount: String(credits(7)) },
      ]);
      const audit = await harness.db.query(
        'SELECT action, actor_did, ip, user_agent, request_id, metadata FROM audit_log WHERE target_id = $1',
        [result.transfer_id],
      );
      expect(audit.rows).toEqual([
        {
          action: 'payment.deposit',
          actor_did: user.did,
          ip: '203.0.113.7',
          user_agent: 'vitest',
          request_id: transfer.rows[0].request_id,
          metadata: { amount: credits(7) },
        },
      ]);
      const outbox = await harness.db.query(
        `SELECT subject, payload FROM outbox WHERE payload->>'transfer_id' = $1`,
        [result.transfer_id],
      );
      expect(outbox.rows).toEqual([
        {
          subject: 'evt.payment.deposit.completed',
          payload: { transfer_id: result.transfer_id, owner_did: user.did, amount: credits(7) },
        },
      ]);
    });
  });

  describe('withdraw', () => {
    it('when a withdrawal fits the balance, then it moves available to external and emits withdrawal.completed', async () => {
      const user = await funded(credits(5));

      const result = await harness.call(paymentEndpoints.withdraw, { amount: credits(2) }, user);

      expect(result).toMatchObject({
        kind: 'withdrawal',
        amount: credits(2),
        balance: { available: credits(3), total_deposited: credits(5), total_withdrawn: credits(2) },
      });
      const entries = await harness.db.query(
        'SELECT book, amount FROM ledger_entries WHERE transfer_id = $1 ORDER BY amount',
        [result.transfer_id],
      );
      expect(entries.rows).toEqual([
        { book: 'available', amount: String(-credits(2)) },
        { book: 'external', amount: String(credits(2)) },
      ]);
      expect(
        await scalar(harness.db, `SELECT subject FROM outbox WHERE payload->>'transfer_id' = $1`, [
          result.transfer_id,
        ]),
      ).toBe('evt.payment.withdrawal.completed');
      expect(
        await scalar(harness.db, 'SELECT action FROM audit_log WHERE target_id = $1', [result.transfer_id]),
      ).toBe('payment.withdraw');
    });

    it('when a withdrawal exceeds the available balance, then INSUFFICIENT_FUNDS and nothing is written', async () => {
      const user = await funded(credits(3));
      const before = await rowCounts();

      const code = await harness.failure(paymentEndpoints.withdraw, { amount: credits(3) + 1 }, user);

      expect(code).toBe('INSUFFICIENT_FUNDS');
      expect(await rowCounts()).toEqual(before);
      expect(await harness.call(paymentEndpoints.balance, {}, user)).toMatchObject({
        available: credits(3),
        total_withdrawn: 0,
      });
    });

    it('when the caller has no account, then INSUFFICIENT_FUNDS and no account is made', async () => {
      const user = userPrincipal();
      const before = await rowCounts();

      expect(await harness.failure(paymentEndpoints.withdraw, { amount: 1 }, user)).toBe(
        'INSUFFICIENT_FUNDS',
      );

      expect(await rowCounts()).toEqual(before);
      expect(await accountRows(user.did)).toBe(0);
    });
  });

  describe('balance', () => {
    it('when a caller without an account asks, then every balance is zero and no account is made', async () => {
      const user = userPrincipal();

      expect(await harness.call(paymentEndpoints.balance, {}, user)).toEqual({
        owner_did: user.did,
        currency: 'ZSC',
        available: 0,
        held: 0,
        in_channels: 0,
        total_deposited: 0,
        total_withdrawn: 0,
      });
      expect(await accountRows(user.did)).toBe(0);
    });

    it("when a user asks for another DID's balance, then NOT_FOUND; an admin gets it", async () => {
      const owner = await funded(credits(2));
      const stranger = userPrincipal();

      expect(await harness.failure(paymentEndpoints.balance, { owner_did: owner.did }, stranger)).toBe(
        'NOT_FOUND',
      );
      expect(await harness.call(paymentEndpoints.balance, { owner_did: owner.did }, admin)).toMatchObject({
        owner_did: owner.did,
        available: credits(2),
      });
      expect(await harness.call(paymentEndpoints.balance, { owner_did: owner.did }, owner)).toMatchObject({
        available: credits(2),
      });
    });

    it("when a system user asks for another DID's balance, then it gets it", async () => {
      const owner = await funded(credits(3));

      expect(
        await harness.call(
          paymentEndpoints.balance,
          { owner_did: owner.did },
          { ...userPrincipal(), is_system: true },
        ),
      ).toMatchObject({
        owner_did: owner.did,
        available: credits(3),
      });
    });

    it('when owner_did is not a DID, then VALIDATION_FAILED', async () => {
      expect(await harness.failure(paymentEndpoints.balance, { owner_did: 'someone' }, admin)).toBe(
        'VALIDATION_FAILED',
      );
    });
  });

  describe('history', () => {
    it("when a caller reads history, then only the caller's entries come back, newest first, signed", async () => {
      const user = await funded(credits(5));
      const other = await funded(credits(9));
      const withdrawal = await harness.call(paymentEndpoints.withdraw, { amount: credits(1) }, user);
      await harness.call(paymentEndpoints.withdraw, { amount: credits(4) }, other);

      const history = await harness.call(paymentEndpoints.history, {}, user);

      expect(history.next_cursor).toBeNull();
      expect(history.items.map((item) => [item.kind, item.book, item.amount])).toEqual([
        ['withdrawal', 'available', -credits(1)],
        ['deposit', 'available', credits(5)],
      ]);
      expect(history.items[0]?.transfer_id).toBe(withdrawal.transfer_id);
      const ownTransfers = await harness.db.query(
        `SELECT e.id::text AS id FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
         WHERE a.owner_did = $1 AND e.book IN ('available', 'held') ORDER BY e.id DESC`,
        [user.did],
      );
      expect(history.items.map((item) => item.id)).toEqual(ownTransfers.rows.map((row) => row.id));
    });

    it('when history is read page by page over 3 pages, then no entry is missed or repeated', async () => {
      const user = userPrincipal();
      for (let index = 1; index <= 5; index += 1) {
        await harness.call(paymentEndpoints.deposit, { amount: index }, user);
      }

      const pages = [];
      let cursor: string | undefined;
      do {
        const page = await harness.call(
          paymentEndpoints.history,
          { limit: 2, ...(cursor === undefined ? {} : { cursor }) },
          user,
        );
        pages.push(page.items);
        cursor = page.next_cursor ?? undefined;
      } while (cursor !== undefined && pages.length < 10);

      expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
      expect(pages.flat().map((item) => item.amount)).toEqual([5, 4, 3, 2, 1]);
      const ids = pages.flat().map((item) => BigInt(item.id));
      expect(new Set(ids).size).toBe(5);
      expect([...ids].sort((left, right) => (left > right ? -1 : 1))).toEqual(ids);
    });

    it.each([
      ['not a number', 'abc'],
      ['negative', '-5'],
      ['longer than 19 digits', '12345678901234567890'],
      ['beyond the largest entry id', '9999999999999999999'],
    ])('when the cursor is %s, then VALIDATION_FAILED', async (_, cursor) => {
      const user = await funded(1);
      expect(await harness.failure(paymentEndpoints.history, { cursor }, user)).toBe('VALIDATION_FAILED');
    });

    it('when the page size is 0 or above 100, then VALIDATION_FAILED; 100 is allowed', async () => {
      const user = await funded(1);

      expect(await harness.failure(paymentEndpoints.history, { limit: 0 }, user)).toBe('VALIDATION_FAILED');
      expect(await harness.failure(paymentEndpoints.history, { limit: 101 }, user)).toBe('VALIDATION_FAILED');
      expect((await harness.call(paymentEndpoints.history, { limit: 100 }, user)).items).toHaveLength(1);
    });
  });

  describe('who may call', () => {
    it('when an API key holds only payments:read, then deposit and withdraw are INSUFFICIENT_SCOPE and nothing is written', async () => {
      const key = userPrincipal({ scopes: ['payments:read'] });
      const before = await rowCounts();

      expect(await harness.failure(paymentEndpoints.deposit, { amount: 1 }, key)).toBe('INSUFFICIENT_SCOPE');
      expect(await harness.failure(paymentEndpoints.withdraw, { amount: 1 }, key)).toBe('INSUFFICIENT_SCOPE');

      expect(await rowCounts()).toEqual(before);
      expect(await accountRows(key.did)).toBe(0);
      // The same key may read.
      expect(await harness.call(paymentEndpoints.balance, {}, key)).toMatchObject({ available: 0 });
      expect(await harness.call(paymentEndpoints.history, {}, key)).toEqual({ items: [], next_cursor: null });
    });

    it('when there is no principal, then every account endpoint is UNAUTHENTICATED and nothing is written', async () => {
      const before = await rowCounts();

      expect(await harness.failure(paymentEndpoints.deposit, { amount: 1 })).toBe('UNAUTHENTICATED');
      expect(await harness.failure(paymentEndpoints.withdraw, { amount: 1 })).toBe('UNAUTHENTICATED');
      expect(await harness.failure(paymentEndpoints.balance, {})).toBe('UNAUTHENTICATED');
      expect(await harness.failure(paymentEndpoints.history, {})).toBe('UNAUTHENTICATED');

      expect(await rowCounts()).toEqual(before);
    });
  });
});
