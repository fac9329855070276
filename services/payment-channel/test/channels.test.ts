import { randomUUID } from 'node:crypto';
import { type Channel, type Principal, paymentEndpoints } from '@zerostate/contracts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { credits, type Harness, scalar, startHarness, userPrincipal } from './harness.js';

/** Payment channels: open, pay, close, list, through NATS exactly as the gateway calls them. */
describe('channels', () => {
  let harness: Harness;
  const admin = userPrincipal({ admin: true });

  beforeAll(async () => {
    harness = await startHarness({ name: 'payment_channels' });
  });
  afterAll(async () => harness?.stop());

  // SPEC §4.2: the invariants hold after every test.
  afterEach(async () => harness.expectReconciled());

  const funded = (amount: number) => harness.funded(amount);

  /** A payer with `balance` who opened a channel of `deposit` to a fresh payee. */
  async function openedChannel(options: { balance?: number; deposit?: number } = {}) {
    const payer = await funded(options.balance ?? credits(10));
    const payee = userPrincipal();
    const channel = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: payee.did, amount: options.deposit ?? credits(4) },
      payer,
    );
    return { payer, payee, channel };
  }

  const pay = (channel: Channel, payer: Principal, amount: number, sequenceNumber: number) =>
    harness.call(
      paymentEndpoints.payChannel,
      { id: channel.id, amount, sequence_number: sequenceNumber },
      payer,
    );

  const transfersOf = async (channelId: string) =>
    (
      await harness.db.query('SELECT kind, amount FROM transfers WHERE reference_id = $1 ORDER BY kind', [
        channelId,
      ])
    ).rows;

  const channelTransactions = async (channelId: string) =>
    Number(
      await scalar(harness.db, 'SELECT count(*) FROM channel_transactions WHERE channel_id = $1', [
        channelId,
      ]),
    );

  const expireNow = (channelId: string) =>
    harness.db.query(`UPDATE payment_channels SET expires_at = now() - interval '1 minute' WHERE id = $1`, [
      channelId,
    ]);

  describe('open', () => {
    it('when the payer lacks the funds, then INSUFFICIENT_FUNDS and no channel is made', async () => {
      const payer = await funded(credits(1));
      const stranger = userPrincipal();
      const payee = userPrincipal();

      const short = await harness.failure(
        paymentEndpoints.openChannel,
        { payee_did: payee.did, amount: credits(1) + 1 },
        payer,
      );
      const noAccount = await harness.failure(
        paymentEndpoints.openChannel,
        { payee_did: payee.did, amount: 1 },
        stranger,
      );

      expect([short, noAccount]).toEqual(['INSUFFICIENT_FUNDS', 'INSUFFICIENT_FUNDS']);
      expect(
        await scalar(harness.db, 'SELECT count(*) FROM payment_channels WHERE payer_did IN ($1, $2)', [
          payer.did,
          stranger.did,
        ]),
      ).toBe('0');
      expect(
        await scalar(harness.db, 'SELECT count(*) FROM accounts WHERE owner_did = $1', [payee.did]),
      ).toBe('0');
      expect(await harness.call(paymentEndpoints.balance, {}, payer)).toMatchObject({
        available: credits(1),
        in_channels: 0,
      });
    });

    it('when the payer names itself as payee, then VALIDATION_FAILED and nothing moves', async () => {
      const payer = await funded(credits(2));

      expect(
        await harness.failure(
          paymentEndpoints.openChannel,
          { payee_did: payer.did, amount: credits(1) },
          payer,
        ),
      ).toBe('VALIDATION_FAILED');

      expect(
        await scalar(harness.db, 'SELECT count(*) FROM payment_channels WHERE payer_did = $1', [payer.did]),
      ).toBe('0');
      expect(await harness.call(paymentEndpoints.balance, {}, payer)).toMatchObject({
        available: credits(2),
      });
    });

    it('when the lifetime is under a minute or over 30 days, then VALIDATION_FAILED and nothing moves', async () => {
      const payer = await funded(credits(2));
      const payee = userPrincipal();
      const open = (seconds: number) =>
        harness.failure(
          paymentEndpoints.openChannel,
          { payee_did: payee.did, amount: 1, expires_in_seconds: seconds },
          payer,
        );

      expect([await open(59), await open(30 * 86_400 + 1)]).toEqual([
        'VALIDATION_FAILED',
        'VALIDATION_FAILED',
      ]);
      expect(
        await scalar(harness.db, 'SELECT count(*) FROM payment_channels WHERE payer_did = $1', [payer.did]),
      ).toBe('0');
    });

    it('when a channel opens, then the deposit moves from available to in_channels through one funding transfer', async () => {
      const payer = await funded(credits(10));
      const payee = userPrincipal();

      const channel = await harness.call(
        paymentEndpoints.openChannel,
        { payee_did: payee.did, amount: credits(4), expires_in_seconds: 3_600 },
        payer,
      );

      expect(channel).toMatchObject({
        payer_did: payer.did,
        payee_did: payee.did,
        status: 'open',
        deposit: credits(4),
        paid: 0,
        sequence_number: 0,
        closed_at: null,
        settled_amount: null,
        refunded_amount: null,
      });
      const lifetimeMs = Date.parse(channel.expires_at) - Date.parse(channel.created_at);
      expect(Math.abs(lifetimeMs - 3_600_000)).toBeLessThan(60_000);
      expect(await harness.call(paymentEndpoints.balance, {}, payer)).toMatchObject({
        available: credits(6),
        in_channels: credits(4),
        total_deposited: credits(10),
      });
      expect(await harness.call(paymentEndpoints.balance, {}, payee)).toMatchObject({
        available: 0,
        in_channels: 0,
      });
      expect(await transfersOf(channel.id)).toEqual([
        { kind: 'channel_funding', amount: String(credits(4)) },
      ]);
      const entries = await harness.db.query(
        `SELECT e.book, e.channel_id, a.owner_did, e.amount FROM ledger_entries e
         JOIN transfers t ON t.id = e.transfer_id LEFT JOIN accounts a ON a.id = e.account_id
         WHERE t.reference_id = $1 ORDER BY e.amount`,
        [channel.id],
      );
      expect(entries.rows).toEqual([
        { book: 'available', channel_id: null, owner_did: payer.did, amount: String(-credits(4)) },
        { book: 'channel', channel_id: channel.id, owner_did: null, amount: String(credits(4)) },
      ]);
      expect(
        await scalar(harness.db, 'SELECT locked FROM payment_channels WHERE id = $1', [channel.id]),
      ).toBe(String(credits(4)));
      expect(
        await scalar(harness.db, 'SELECT action FROM audit_log WHERE target_id = $1', [channel.id]),
      ).toBe('payment.channel.open');
      const event = await harness.db.query(
        `SELECT subject, payload FROM outbox WHERE payload->>'channel_id' = $1`,
        [channel.id],
      );
      expect(event.rows).toEqual([
        {
          subject: 'evt.payment.channel.opened',
          payload: {
            channel_id: channel.id,
            payer_did: payer.did,
            payee_did: payee.did,
            deposit: credits(4),
          },
        },
      ]);
    });
  });

  describe('pay', () => {
    it('when a payment carries a signature, then it is stored with its sequence number, amount and rise', async () => {
      const { payer, channel } = await openedChannel();

      await harness.call(
        paymentEndpoints.payChannel,
        { id: channel.id, amount: 250, sequence_number: 1, signature: 'sig-payer-1' },
        payer,
      );
      const second = await pay(channel, payer, 600, 3);

      expect(second).toMatchObject({ paid: 600, sequence_number: 3, status: 'open' });
      const rows = await harness.db.query(
        `SELECT sequence_number, amount, delta, signature, request_id IS NOT NULL AS has_request_id
         FROM channel_transactions WHERE channel_id = $1 ORDER BY sequence_number`,
        [channel.id],
      );
      expect(rows.rows).toEqual([
        { sequence_number: '1', amount: '250', delta: '250', signature: 'sig-payer-1', has_request_id: true },
        { sequence_number: '3', amount: '600', delta: '350', signature: null, has_request_id: true },
      ]);
      // Paying moves no money until the close.
      expect(await transfersOf(channel.id)).toEqual([
        { kind: 'channel_funding', amount: String(credits(4)) },
      ]);
    });

    it('when sequence number 1 is used twice, then the second is STALE_SEQUENCE_NUMBER and changes nothing', async () => {
      const { payer, channel } = await openedChannel();
      await pay(channel, payer, 100, 1);

      expect(
        await harness.failure(
          paymentEndpoints.payChannel,
          { id: channel.id, amount: 200, sequence_number: 1 },
          payer,
        ),
      ).toBe('STALE_SEQUENCE_NUMBER');

      expect(await harness.call(paymentEndpoints.getChannel, { id: channel.id }, payer)).toMatchObject({
        paid: 100,
        sequence_number: 1,
      });
      expect(await channelTransactions(channel.id)).toBe(1);
    });

    it('when the sequence number is below the last one, then STALE_SEQUENCE_NUMBER; 0 is refused by the contract', async () => {
      const { payer, channel } = await openedChannel();
      await pay(channel, payer, 100, 5);

      const lower = await harness.failure(
        paymentEndpoints.payChannel,
        { id: channel.id, amount: 200, sequence_number: 4 },
        payer,
      );
      // sequence_number is a positive integer in the contract, so 0 never reaches the rules.
      const zero = await harness.failure(
        paymentEndpoints.payChannel,
        { id: channel.id, amount: 200, sequence_number: 0 },
        payer,
      );

      expect([lower, zero]).toEqual(['STALE_SEQUENCE_NUMBER', 'VALIDATION_FAILED']);
      expect(await channelTransactions(channel.id)).toBe(1);
    });

    it('when the cumulative amount does not rise or exceeds the deposit, then CHANNEL_AMOUNT_INVALID', async () => {
      const { payer, channel } = await openedChannel({ deposit: 1_000 });
      await pay(channel, payer, 400, 1);

      const same = await harness.failure(
        paymentEndpoints.payChannel,
        { id: channel.id, amount: 400, sequence_number: 2 },
        payer,
      );
      const lower = await harness.failure(
        paymentEndpoints.payChannel,
        { id: channel.id, amount: 399, sequence_number: 2 },
        payer,
      );
      const beyond = await harness.failure(
        paymentEndpoints.payChannel,
        { id: channel.id, amount: 1_001, sequence_number: 2 },
        payer,
      );

      expect([same, lower, beyond]).toEqual([
        'CHANNEL_AMOUNT_INVALID',
        'CHANNEL_AMOUNT_INVALID',
        'CHANNEL_AMOUNT_INVALID',
      ]);
      expect(await channelTransactions(channel.id)).toBe(1);
      // The whole deposit is a valid cumulative amount.
      expect(await pay(channel, payer, 1_000, 2)).toMatchObject({ paid: 1_000, sequence_number: 2 });
    });

    it('when the payee tries to pay, then FORBIDDEN', async () => {
      const { payee, channel } = await openedChannel();

      expect(
        await harness.failure(
          paymentEndpoints.payChannel,
          { id: channel.id, amount: 1, sequence_number: 1 },
          payee,
        ),
      ).toBe('FORBIDDEN');
      expect(await channelTransactions(channel.id)).toBe(0);
    });
  });

  describe('strangers', () => {
    it('when someone outside the channel gets, pays or closes it, then NOT_FOUND and nothing changes', async () => {
      const { payer, channel } = await openedChannel();
      await pay(channel, payer, 100, 1);
      const stranger = await funded(credits(1));

      const codes = [
        await harness.failure(paymentEndpoints.getChannel, { id: channel.id }, stranger),
        await harness.failure(
          paymentEndpoints.payChannel,
          { id: channel.id, amount: 200, sequence_number: 2 },
          stranger,
        ),
        await harness.failure(paymentEndpoints.closeChannel, { id: channel.id }, stranger),
        await harness.failure(paymentEndpoints.getChannel, { id: randomUUID() }, payer),
      ];

      expect(codes).toEqual(['NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
      expect(await harness.call(paymentEndpoints.getChannel, { id: channel.id }, payer)).toMatchObject({
        status: 'open',
        paid: 100,
      });
      expect(await channelTransactions(channel.id)).toBe(1);
    });

    it('when there is no principal or only a read key, then channel calls are refused and nothing moves', async () => {
      const { channel } = await openedChannel();
      const readKey = userPrincipal({ scopes: ['payments:read'] });
      const payee = userPrincipal();

      const anonymous = [
        await harness.failure(paymentEndpoints.openChannel, { payee_did: payee.did, amount: 1 }),
        await harness.failure(paymentEndpoints.getChannel, { id: channel.id }),
        await harness.failure(paymentEndpoints.listChannels, {}),
        await harness.failure(paymentEndpoints.payChannel, { id: channel.id, amount: 1, sequence_number: 1 }),
        await harness.failure(paymentEndpoints.closeChannel, { id: channel.id }),
      ];
      const readOnly = [
        await harness.failure(paymentEndpoints.openChannel, { payee_did: payee.did, amount: 1 }, readKey),
        await harness.failure(
          paymentEndpoints.payChannel,
          { id: channel.id, amount: 1, sequence_number: 1 },
          readKey,
        ),
        await harness.failure(paymentEndpoints.closeChannel, { id: channel.id }, readKey),
      ];

      expect(new Set(anonymous)).toEqual(new Set(['UNAUTHENTICATED']));
      expect(new Set(readOnly)).toEqual(new Set(['INSUFFICIENT_SCOPE']));
      expect(await channelTransactions(channel.id)).toBe(0);
      expect(await transfersOf(channel.id)).toHaveLength(1);
    });
  });

  describe('close', () => {
    it('when the payer closes before expiry, then CHANNEL_NOT_EXPIRED and the channel stays open', async () => {
      const { payer, channel } = await openedChannel();

      expect(await harness.failure(paymentEndpoints.closeChannel, { id: channel.id }, payer)).toBe(
        'CHANNEL_NOT_EXPIRED',
      );

      expect(await harness.call(paymentEndpoints.getChannel, { id: channel.id }, payer)).toMatchObject({
        status: 'open',
      });
      expect(await transfersOf(channel.id)).toHaveLength(1);
    });

    it('when the payee closes, then the payee gets what was paid and the payer the rest, in two transfers', async () => {
      const { payer, payee, channel } = await openedChannel({ balance: credits(10), deposit: credits(4) });
      await pay(channel, payer, credits(1), 1);
      await pay(channel, payer, credits(1) + 500_000, 2);

      const closed = await harness.call(paymentEndpoints.closeChannel, { id: channel.id }, payee);

      expect(closed).toMatchObject({
        status: 'closed',
        paid: 1_500_000,
        settled_amount: 1_500_000,
        refunded_amount: 2_500_000,
        closed_at: expect.any(String),
      });
      expect(await harness.call(paymentEndpoints.balance, {}, payee)).toMatchObject({
        available: 1_500_000,
        in_channels: 0,
        total_deposited: 0,
      });
      expect(await harness.call(paymentEndpoints.balance, {}, payer)).toMatchObject({
        available: credits(6) + 2_500_000,
        in_channels: 0,
      });
      expect(await transfersOf(channel.id)).toEqual([
        { kind: 'channel_funding', amount: String(credits(4)) },
        { kind: 'channel_refund', amount: '2500000' },
        { kind: 'channel_settlement', amount: '1500000' },
      ]);
      const stored = await harness.db.query(
        'SELECT status, locked, closed_by_did FROM payment_channels WHERE id = $1',
        [channel.id],
      );
      expect(stored.rows).toEqual([{ status: 'closed', locked: '0', closed_by_did: payee.did }]);
      const event = await harness.db.query(
        `SELECT payload FROM outbox WHERE subject = 'evt.payment.channel.closed' AND payload->>'channel_id' = $1`,
        [channel.id],
      );
      expect(event.rows).toEqual([
        {
          payload: {
            channel_id: channel.id,
            status: 'closed',
            settled_amount: 1_500_000,
            refunded_amount: 2_500_000,
          },
        },
      ]);
      expect(
        await scalar(
          harness.db,
          `SELECT actor_did FROM audit_log WHERE action = 'payment.channel.close' AND target_id = $1`,
          [channel.id],
        ),
      ).toBe(payee.did);
      const payeeHistory = await harness.call(paymentEndpoints.history, {}, payee);
      expect(
        payeeHistory.items.map((item) => [item.kind, item.book, item.amount, item.reference_id]),
      ).toEqual([['channel_settlement', 'available', 1_500_000, channel.id]]);
    });

    it('when ten closes race on one channel, then one settles it and the rest are CHANNEL_CLOSED', async () => {
      const { payer, payee, channel } = await openedChannel({ balance: credits(5), deposit: credits(2) });
      await pay(channel, payer, 800, 1);

      const outcomes = await Promise.allSettled(
        Array.from({ length: 10 }, (_, index) =>
          harness.call(paymentEndpoints.closeChannel, { id: channel.id }, index % 2 === 0 ? payee : admin),
        ),
      );

      const closed = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      const codes = outcomes.flatMap((outcome) =>
        outcome.status === 'rejected'
          ? [(outcome.reason as { code?: string }).code ?? String(outcome.reason)]
          : [],
      );
      expect(closed).toHaveLength(1);
      expect(codes).toEqual(Array(9).fill('CHANNEL_CLOSED'));
      expect(await transfersOf(channel.id)).toEqual([
        { kind: 'channel_funding', amount: String(credits(2)) },
        { kind: 'channel_refund', amount: String(credits(2) - 800) },
        { kind: 'channel_settlement', amount: '800' },
      ]);
      expect(await harness.call(paymentEndpoints.balance, {}, payee)).toMatchObject({ available: 800 });
      expect(await harness.call(paymentEndpoints.balance, {}, payer)).toMatchObject({
        available: credits(5) - 800,
      });
    });

    it('when a closed channel is closed again or paid, then CHANNEL_CLOSED and no new transfer', async () => {
      const { payer, payee, channel } = await openedChannel();
      await pay(channel, payer, 100, 1);
      await harness.call(paymentEndpoints.closeChannel, { id: channel.id }, payee);
      const transfersAfterClose = await transfersOf(channel.id);

      const again = await harness.failure(paymentEndpoints.closeChannel, { id: channel.id }, payee);
      const byAdmin = await harness.failure(paymentEndpoints.closeChannel, { id: channel.id }, admin);
      const payment = await harness.failure(
        paymentEndpoints.payChannel,
        { id: channel.id, amount: 200, sequence_number: 2 },
        payer,
      );

      expect([again, byAdmin, payment]).toEqual(['CHANNEL_CLOSED', 'CHANNEL_CLOSED', 'CHANNEL_CLOSED']);
      expect(await transfersOf(channel.id)).toEqual(transfersAfterClose);
      expect(await channelTransactions(channel.id)).toBe(1);
    });

    it('when nothing was paid, then closing writes only the refund transfer', async () => {
      const { payer, payee, channel } = await openedChannel({ balance: credits(5), deposit: credits(2) });

      const closed = await harness.call(paymentEndpoints.closeChannel, { id: channel.id }, payee);

      expect(closed).toMatchObject({ status: 'closed', settled_amount: 0, refunded_amount: credits(2) });
      expect(await transfersOf(channel.id)).toEqual([
        { kind: 'channel_funding', amount: String(credits(2)) },
        { kind: 'channel_refund', amount: String(credits(2)) },
      ]);
      expect(await harness.call(paymentEndpoints.balance, {}, payer)).toMatchObject({
        available: credits(5),
      });
      expect(await harness.call(paymentEndpoints.balance, {}, payee)).toMatchObject({ available: 0 });
    });

    it('when the channel has expired, then a payment is CHANNEL_EXPIRED and the payer may close it as expired', async () => {
      const { payer, payee, channel } = await openedChannel({ balance: credits(10), deposit: credits(4) });
      await pay(channel, payer, 300, 1);
      await expireNow(channel.id);

      expect(
        await harness.failure(
          paymentEndpoints.payChannel,
          { id: channel.id, amount: 400, sequence_number: 2 },
          payer,
        ),
      ).toBe('CHANNEL_EXPIRED');
      const closed = await harness.call(paymentEndpoints.closeChannel, { id: channel.id }, payer);

      expect(closed).toMatchObject({
        status: 'expired',
        paid: 300,
        settled_amount: 300,
        refunded_amount: credits(4) - 300,
      });
      expect(await harness.call(paymentEndpoints.balance, {}, payer)).toMatchObject({
        available: credits(10) - 300,
        in_channels: 0,
      });
      expect(await harness.call(paymentEndpoints.balance, {}, payee)).toMatchObject({ available: 300 });
      expect(await channelTransactions(channel.id)).toBe(1);
      expect(await transfersOf(channel.id)).toEqual([
        { kind: 'channel_funding', amount: String(credits(4)) },
        { kind: 'channel_refund', amount: String(credits(4) - 300) },
        { kind: 'channel_settlement', amount: '300' },
      ]);
      const expired = await harness.call(paymentEndpoints.listChannels, { status: 'expired' }, payee);
      expect(expired.items.map((item) => item.id)).toEqual([channel.id]);
    });
  });

  describe('admin', () => {
    it('when an admin who is no party gets a channel and force-closes it before expiry, then both work', async () => {
      const { payer, payee, channel } = await openedChannel({ balance: credits(3), deposit: credits(2) });
      await pay(channel, payer, 700, 1);

      expect(await harness.call(paymentEndpoints.getChannel, { id: channel.id }, admin)).toMatchObject({
        id: channel.id,
        paid: 700,
      });
      const closed = await harness.call(paymentEndpoints.closeChannel, { id: channel.id }, admin);

      expect(closed).toMatchObject({
        status: 'closed',
        settled_amount: 700,
        refunded_amount: credits(2) - 700,
      });
      expect(await harness.call(paymentEndpoints.balance, {}, payee)).toMatchObject({ available: 700 });
      expect(await harness.call(paymentEndpoints.balance, {}, payer)).toMatchObject({
        available: credits(3) - 700,
      });
      expect(
        await scalar(harness.db, 'SELECT closed_by_did FROM payment_channels WHERE id = $1', [channel.id]),
      ).toBe(admin.did);
    });
  });

  describe('list', () => {
    it('when a user lists channels, then only channels the user is party to come back, filtered and paged', async () => {
      const user = await funded(credits(10));
      const counterpart = await funded(credits(10));
      const outsider = await funded(credits(10));
      const open = (payer: Principal, payee: Principal) =>
        harness.call(paymentEndpoints.openChannel, { payee_did: payee.did, amount: credits(1) }, payer);
      const paysFirst = await open(user, counterpart);
      const paysSecond = await open(user, outsider);
      const isPaid = await open(counterpart, user);
      const unrelated = await open(outsider, counterpart);
      await harness.call(paymentEndpoints.closeChannel, { id: paysFirst.id }, counterpart);

      const all = await harness.call(paymentEndpoints.listChannels, {}, user);
      const asPayer = await harness.call(paymentEndpoints.listChannels, { role: 'payer' }, user);
      const asPayee = await harness.call(paymentEndpoints.listChannels, { role: 'payee' }, user);
      const closed = await harness.call(paymentEndpoints.listChannels, { status: 'closed' }, user);
      const openAsPayer = await harness.call(
        paymentEndpoints.listChannels,
        { role: 'payer', status: 'open' },
        user,
      );

      const ids = (page: { items: Channel[] }) => page.items.map((channel) => channel.id);
      expect(ids(all)).toEqual([isPaid.id, paysSecond.id, paysFirst.id]);
      expect(ids(all)).not.toContain(unrelated.id);
      expect(all.next_cursor).toBeNull();
      expect(ids(asPayer)).toEqual([paysSecond.id, paysFirst.id]);
      expect(ids(asPayee)).toEqual([isPaid.id]);
      expect(ids(closed)).toEqual([paysFirst.id]);
      expect(ids(openAsPayer)).toEqual([paysSecond.id]);

      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await harness.call(
          paymentEndpoints.listChannels,
          { limit: 1, ...(cursor === undefined ? {} : { cursor }) },
          user,
        );
        pages.push(ids(page));
        cursor = page.next_cursor ?? undefined;
      } while (cursor !== undefined && pages.length < 10);
      expect(pages).toEqual([[isPaid.id], [paysSecond.id], [paysFirst.id]]);

      expect(await harness.failure(paymentEndpoints.listChannels, { cursor: 'not-a-uuid' }, user)).toBe(
        'VALIDATION_FAILED',
      );
    });
  });
});
