import { type Channel, type Principal, paymentEndpoints } from '@zerostate/contracts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { channelHelpers } from './channel-helpers.js';
import { credits, type Harness, scalar, startHarness, userPrincipal } from './harness.js';

/** Payment channels: close, force-close and list, through NATS exactly as the gateway calls them. */
describe('channels', () => {
  let harness: Harness;
  const admin = userPrincipal({ admin: true });

  beforeAll(async () => {
    harness = await startHarness({ name: 'payment_channels_close' });
  });
  afterAll(async () => harness?.stop());

  // SPEC §4.2: the invariants hold after every test.
  afterEach(async () => harness.expectReconciled());

  const { funded, openedChannel, pay, transfersOf, channelTransactions, expireNow } = channelHelpers(
    () => harness,
  );

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
