import { randomUUID } from 'node:crypto';
import type { RunningStack } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type Balance,
  type Caller,
  type Channel,
  expectError,
  paymentsClient,
  startPaymentsStack,
} from './support/payments.js';

/**
 * Who may touch which money, and a channel over HTTP: gateway, auth and payment-channel run as separate processes; the test talks HTTP
 * only, and reads the payment database directly to check what was (not) written.
 */
let system: RunningStack;

beforeAll(async () => {
  system = await startPaymentsStack();
});
afterAll(async () => {
  await system?.stop();
});

const { register, apiKey, admin, api, deposit, balanceOf, openChannel, query, moneySnapshot } =
  paymentsClient(() => system);

describe('when users reach for money that is not theirs', () => {
  let alice: Caller;
  let bob: Caller;
  let carol: Caller;
  let alicesChannel: Channel;
  let alicesDeposit: string;

  beforeAll(async () => {
    [alice, bob, carol] = await Promise.all([register('alice'), register('bob'), register('carol')]);
    const funded = await deposit(alice, 5_000);
    expect(funded.status).toBe(201);
    alicesDeposit = funded.body.transfer_id;
    expect((await deposit(bob, 300)).status).toBe(201);
    alicesChannel = await openChannel(alice, carol, 1_000);
  });

  test("then B asking for A's balance by owner_did is 404, and B's own balance is B's", async () => {
    const response = await api('GET', `/payments/balance?owner_did=${encodeURIComponent(alice.did)}`, {
      caller: bob,
    });
    expectError(response, 404, 'NOT_FOUND');
    expect(await balanceOf(bob)).toMatchObject({ owner_did: bob.did, available: 300 });
  });

  test("then B's history holds only B's entries", async () => {
    const history = await api<{ items: { transfer_id: string; amount: number }[] }>(
      'GET',
      '/payments/history?limit=100',
      { caller: bob },
    );
    expect(history.status).toBe(200);
    expect(history.body.items.map((item) => item.amount)).toEqual([300]);
    expect(history.body.items.map((item) => item.transfer_id)).not.toContain(alicesDeposit);
  });

  test("then B can neither get, pay nor close A's channel (404) and B's list does not show it", async () => {
    const path = `/payments/channels/${alicesChannel.id}`;
    expectError(await api('GET', path, { caller: bob }), 404, 'NOT_FOUND');
    expectError(
      await api('POST', `${path}/pay`, { caller: bob, body: { amount: 10, sequence_number: 1 } }),
      404,
      'NOT_FOUND',
    );
    expectError(await api('POST', `${path}/close`, { caller: bob }), 404, 'NOT_FOUND');
    const listed = await api<{ items: Channel[] }>('GET', '/payments/channels', { caller: bob });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([]);
    const channel = await api<Channel>('GET', path, { caller: alice });
    expect(channel.body).toMatchObject({ status: 'open', paid: 0, sequence_number: 0 });
  });

  test('then the payee sees the channel in its list and can get it, but paying is 403 FORBIDDEN', async () => {
    const path = `/payments/channels/${alicesChannel.id}`;
    const got = await api<Channel>('GET', path, { caller: carol });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: alicesChannel.id, payer_did: alice.did, payee_did: carol.did });
    const listed = await api<{ items: Channel[] }>('GET', '/payments/channels', { caller: carol });
    expect(listed.body.items.map((item) => item.id)).toEqual([alicesChannel.id]);
    const paid = await api('POST', `${path}/pay`, {
      caller: carol,
      body: { amount: 10, sequence_number: 1 },
    });
    expectError(paid, 403, 'FORBIDDEN');
    expect((await api<Channel>('GET', path, { caller: alice })).body.paid).toBe(0);
  });

  test("then naming another owner in a body is refused: deposits and withdrawals act on the caller's account only", async () => {
    const onBehalf = await api('POST', '/payments/withdraw', {
      caller: bob,
      body: { amount: 100, owner_did: alice.did },
    });
    expectError(onBehalf, 400, 'VALIDATION_FAILED');
    const overdraw = await api('POST', '/payments/withdraw', { caller: bob, body: { amount: 301 } });
    expectError(overdraw, 409, 'INSUFFICIENT_FUNDS');
    expect((await balanceOf(alice)).available).toBe(4_000);
  });

  test('then an API key with only payments:read gets 403 INSUFFICIENT_SCOPE on every POST, and reads work', async () => {
    const readOnly = await apiKey(alice, ['payments:read']);
    const posts: [string, unknown][] = [
      ['/payments/deposit', { amount: 100 }],
      ['/payments/withdraw', { amount: 100 }],
      ['/payments/channels', { payee_did: carol.did, amount: 100 }],
      [`/payments/channels/${alicesChannel.id}/pay`, { amount: 10, sequence_number: 1 }],
      [`/payments/channels/${alicesChannel.id}/close`, undefined],
    ];
    const before = await moneySnapshot();
    for (const [path, body] of posts) {
      const response = await api('POST', path, { apiKey: readOnly, body, key: randomUUID() });
      expectError(response, 403, 'INSUFFICIENT_SCOPE');
    }
    expect(await moneySnapshot()).toEqual(before);
    const read = await api<Balance>('GET', '/payments/balance', { apiKey: readOnly });
    expect(read.status).toBe(200);
    expect(read.body.owner_did).toBe(alice.did);
  });

  test('then an API key with payments:write moves money for its owner', async () => {
    const writer = await apiKey(bob, ['payments:write']);
    const response = await api<{ balance: Balance }>('POST', '/payments/deposit', {
      apiKey: writer,
      body: { amount: 50 },
    });
    expect(response.status).toBe(201);
    expect(response.body.balance).toMatchObject({ owner_did: bob.did, available: 350 });
  });

  test('then an anonymous caller gets 401 on every payment route', async () => {
    const id = alicesChannel.id;
    const routes: ['GET' | 'POST', string, unknown][] = [
      ['POST', '/payments/deposit', { amount: 100 }],
      ['POST', '/payments/withdraw', { amount: 100 }],
      ['GET', '/payments/balance', undefined],
      ['GET', '/payments/history', undefined],
      ['POST', '/payments/channels', { payee_did: carol.did, amount: 100 }],
      ['GET', '/payments/channels', undefined],
      ['GET', `/payments/channels/${id}`, undefined],
      ['POST', `/payments/channels/${id}/pay`, { amount: 10, sequence_number: 1 }],
      ['POST', `/payments/channels/${id}/close`, undefined],
      ['GET', '/admin/payments/reconciliation', undefined],
      ['GET', '/admin/payments/statistics', undefined],
    ];
    for (const [method, path, body] of routes) {
      const response = await api(method, path, { body });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect((response.body.error as { code: string }).code).toBe('UNAUTHENTICATED');
    }
  });

  test('then a non-admin gets 403 on both admin routes, even with an API key', async () => {
    for (const path of ['/admin/payments/reconciliation', '/admin/payments/statistics']) {
      expectError(await api('GET', path, { caller: bob }), 403, 'FORBIDDEN');
    }
    const key = await apiKey(bob, ['*:read']);
    expectError(
      await api('GET', '/admin/payments/reconciliation', { apiKey: key }),
      403,
      'API_KEY_NOT_ALLOWED',
    );
  });

  test("then an admin gets a clean reconciliation, the statistics, and may read another user's balance", async () => {
    const operator = await admin();
    const reconciliation = await api<{ ok: boolean; violations: unknown[]; totals: Record<string, string> }>(
      'GET',
      '/admin/payments/reconciliation',
      { caller: operator },
    );
    expect(reconciliation.status).toBe(200);
    expect(reconciliation.body.ok).toBe(true);
    expect(reconciliation.body.violations).toEqual([]);
    const [totals] = await query<{ deposited: string }>(
      'select sum(total_deposited)::text as deposited from accounts',
    );
    expect(reconciliation.body.totals.deposited).toBe(totals!.deposited);

    const statistics = await api<{ items: { day: string; transactions: number; deposits: string }[] }>(
      'GET',
      '/admin/payments/statistics',
      { caller: operator },
    );
    expect(statistics.status).toBe(200);
    const days = await query<{ day: string; transactions: number; deposits: string }>(
      `select to_char(day, 'YYYY-MM-DD') as day, transactions::int as transactions, deposits::text as deposits
       from payment_statistics order by day desc`,
    );
    expect(days.length).toBeGreaterThan(0);
    expect(
      statistics.body.items.map(({ day, transactions, deposits }) => ({ day, transactions, deposits })),
    ).toEqual(days);

    const alicesBalance = await api<Balance>(
      'GET',
      `/payments/balance?owner_did=${encodeURIComponent(alice.did)}`,
      { caller: operator },
    );
    expect(alicesBalance.status).toBe(200);
    expect(alicesBalance.body).toMatchObject({ owner_did: alice.did, available: 4_000, in_channels: 1_000 });
  });
});

describe('when a payer and a payee use a channel over HTTP', () => {
  test('then pay, a stale sequence, the payee closing, and every later call behave, and the money adds up', async () => {
    const payer = await register('payer');
    const payee = await register('payee');
    expect((await deposit(payer, 1_000)).status).toBe(201);
    const channel = await openChannel(payer, payee, 600);
    expect(channel).toMatchObject({ status: 'open', deposit: 600, paid: 0, payer_did: payer.did });
    expect(await balanceOf(payer)).toMatchObject({ available: 400, in_channels: 600 });
    const path = `/payments/channels/${channel.id}`;

    const paid = await api<Channel>('POST', `${path}/pay`, {
      caller: payer,
      body: { amount: 100, sequence_number: 1 },
    });
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ paid: 100, sequence_number: 1, status: 'open' });

    const stale = await api('POST', `${path}/pay`, {
      caller: payer,
      body: { amount: 150, sequence_number: 1 },
    });
    expectError(stale, 409, 'STALE_SEQUENCE_NUMBER');

    const closed = await api<Channel>('POST', `${path}/close`, { caller: payee });
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ status: 'closed', settled_amount: 100, refunded_amount: 500 });

    expectError(await api('POST', `${path}/close`, { caller: payee }), 409, 'CHANNEL_CLOSED');
    const late = await api('POST', `${path}/pay`, {
      caller: payer,
      body: { amount: 200, sequence_number: 2 },
    });
    expectError(late, 409, 'CHANNEL_CLOSED');

    const payerBalance = await balanceOf(payer);
    const payeeBalance = await balanceOf(payee);
    expect(payerBalance).toMatchObject({ available: 900, in_channels: 0, total_deposited: 1_000 });
    expect(payeeBalance).toMatchObject({ available: 100, in_channels: 0, total_deposited: 0 });
    expect(payerBalance.available + payeeBalance.available).toBe(payerBalance.total_deposited);
    const [transfers] = await query<{ kinds: string[] }>(
      'select array_agg(kind order by kind) as kinds from transfers where reference_id = $1',
      [channel.id],
    );
    expect(transfers!.kinds).toEqual(['channel_funding', 'channel_refund', 'channel_settlement']);
  });
});
