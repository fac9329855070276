import { randomUUID } from 'node:crypto';
import { paymentEndpoints } from '@zerostate/contracts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { channelHelpers } from './channel-helpers.js';
import { credits, type Harness, scalar, startHarness, userPrincipal } from './harness.js';

/** Payment channels: open, pay, and what strangers may not do, through NATS exactly as the gateway calls them. */
describe('channels', () => {
  let harness: Harness;
  const _admin = userPrincipal({ admin: true });

  beforeAll(async () => {
    harness = await startHarness({ name: 'payment_channels_pay' });
  });
  afterAll(async () => harness?.stop());

  // SPEC §4.2: the invariants hold after every test.
  afterEach(async () => harness.expectReconciled());

  const { funded, openedChannel, pay, transfersOf, channelTransactions } = channelHelpers(() => harness);

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
});
