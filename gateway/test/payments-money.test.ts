import { randomUUID } from 'node:crypto';
import type { RunningStack } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Balance, expectError, paymentsClient, startPaymentsStack } from './support/payments.js';

/**
 * Deposits, withdrawals and Idempotency-Key through the whole system: gateway, auth and payment-channel run as separate processes; the test talks HTTP
 * only, and reads the payment database directly to check what was (not) written.
 */
let system: RunningStack;

beforeAll(async () => {
  system = await startPaymentsStack();
});
afterAll(async () => {
  await system?.stop();
});

const { register, api, deposit, balanceOf, openChannel, query, depositRows, moneySnapshot } = paymentsClient(
  () => system,
);

describe('when a deposit amount is not a positive integer within the cap', () => {
  test.each([
    ['above the 10,000-credit cap', { amount: 10_000_000_001 }],
    ['zero', { amount: 0 }],
    ['negative', { amount: -5 }],
    ['fractional', { amount: 1.5 }],
    ['a string', { amount: '100' }],
    ['missing', {}],
  ])('then %s is 400 VALIDATION_FAILED on amount and no money row changes', async (_name, body) => {
    const caller = await register('invalid');
    const before = await moneySnapshot();
    const response = await api('POST', '/payments/deposit', { caller, body, key: randomUUID() });
    expectError(response, 400, 'VALIDATION_FAILED');
    expect((response.body.error as { details: { path: string }[] }).details.map((d) => d.path)).toEqual([
      'amount',
    ]);
    expect(await moneySnapshot()).toEqual(before);
    expect(await query('select 1 from accounts where owner_did = $1', [caller.did])).toEqual([]);
  });

  test('then exactly the cap is accepted (the boundary the refusals are measured against)', async () => {
    const caller = await register('cap');
    const response = await deposit(caller, 10_000_000_000);
    expect(response.status).toBe(201);
    expect(response.body.balance.available).toBe(10_000_000_000);
  });
});

describe('when a user deposits and reads the balance', () => {
  test('then the deposit is 201 with the transfer and the new balance, and balance and history agree', async () => {
    const alice = await register('alice');
    const response = await deposit(alice, 2_500_000);
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      transfer_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      kind: 'deposit',
      amount: 2_500_000,
      balance: { owner_did: alice.did, available: 2_500_000, total_deposited: 2_500_000 },
    });
    expect(await balanceOf(alice)).toMatchObject({
      owner_did: alice.did,
      available: 2_500_000,
      held: 0,
      in_channels: 0,
      total_deposited: 2_500_000,
      total_withdrawn: 0,
    });
    const history = await api<{ items: { transfer_id: string; kind: string; amount: number }[] }>(
      'GET',
      '/payments/history?limit=10',
      { caller: alice },
    );
    expect(history.status).toBe(200);
    expect(history.body.items).toEqual([
      expect.objectContaining({ transfer_id: response.body.transfer_id, kind: 'deposit', amount: 2_500_000 }),
    ]);
    expect(await depositRows(alice.did)).toBe(1);
  });

  test('then a withdrawal above the balance is 409 INSUFFICIENT_FUNDS and one within it is 201', async () => {
    const bob = await register('bob');
    expect((await deposit(bob, 1_000)).status).toBe(201);
    const tooMuch = await api('POST', '/payments/withdraw', { caller: bob, body: { amount: 1_001 } });
    expectError(tooMuch, 409, 'INSUFFICIENT_FUNDS');
    const withdrawn = await api<{ kind: string; balance: Balance }>('POST', '/payments/withdraw', {
      caller: bob,
      body: { amount: 400 },
    });
    expect(withdrawn.status).toBe(201);
    expect(withdrawn.body.kind).toBe('withdrawal');
    expect(withdrawn.body.balance).toMatchObject({ available: 600, total_withdrawn: 400 });
  });
});

describe('when a client retries with an Idempotency-Key', () => {
  test('then the same key and body twice answer the same status and body, with one transfer', async () => {
    const alice = await register('retry');
    const key = `deposit-${randomUUID()}`;
    const first = await deposit(alice, 700, key);
    const second = await deposit(alice, 700, key);
    expect(first.status).toBe(201);
    expect(second.status).toBe(first.status);
    expect(second.body).toEqual(first.body);
    expect(await depositRows(alice.did)).toBe(1);
    expect((await balanceOf(alice)).available).toBe(700);
  });

  test('then the same key with another body is 409 IDEMPOTENCY_KEY_REUSED and nothing more is written', async () => {
    const alice = await register('reuse');
    const key = `deposit-${randomUUID()}`;
    expect((await deposit(alice, 700, key)).status).toBe(201);
    const reused = await deposit(alice, 701, key);
    expectError(reused, 409, 'IDEMPOTENCY_KEY_REUSED');
    const otherRoute = await api('POST', '/payments/withdraw', { caller: alice, body: { amount: 700 }, key });
    expectError(otherRoute, 409, 'IDEMPOTENCY_KEY_REUSED');
    expect(await depositRows(alice.did)).toBe(1);
    expect(await balanceOf(alice)).toMatchObject({ available: 700, total_withdrawn: 0 });
  });

  test.each([
    ['300 characters', 'k'.repeat(300)],
    ['a space', 'deposit 1'],
  ])('then a key of %s is 400 and nothing is written', async (_name, key) => {
    const alice = await register('badkey');
    const before = await moneySnapshot();
    const response = await deposit(alice, 700, key);
    expectError(response, 400, 'VALIDATION_FAILED');
    expect(response.body).toMatchObject({
      error: { details: [{ path: 'Idempotency-Key', code: 'invalid_format' }] },
    });
    expect(await moneySnapshot()).toEqual(before);
  });

  test("then a key is the caller's own: another user sending the same key gets a fresh effect", async () => {
    const alice = await register('owner');
    const bob = await register('other');
    const key = `shared-${randomUUID()}`;
    const first = await deposit(alice, 700, key);
    const second = await deposit(bob, 700, key);
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.transfer_id).not.toBe(first.body.transfer_id);
    expect(second.body.balance.owner_did).toBe(bob.did);
    expect(await depositRows(alice.did)).toBe(1);
    expect(await depositRows(bob.did)).toBe(1);
    expect((await balanceOf(bob)).available).toBe(700);
  });

  test('then a channel payment retried with its key replays the first answer instead of a stale-sequence refusal', async () => {
    const payer = await register('payer-retry');
    const payee = await register('payee-retry');
    expect((await deposit(payer, 1_000)).status).toBe(201);
    const channel = await openChannel(payer, payee, 500);
    const key = `pay-${randomUUID()}`;
    const body = { amount: 100, sequence_number: 1 };
    const first = await api('POST', `/payments/channels/${channel.id}/pay`, { caller: payer, body, key });
    const replay = await api('POST', `/payments/channels/${channel.id}/pay`, { caller: payer, body, key });
    expect(first.status).toBe(200);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    const withoutKey = await api('POST', `/payments/channels/${channel.id}/pay`, { caller: payer, body });
    expectError(withoutKey, 409, 'STALE_SEQUENCE_NUMBER');
  });

  test('then 100 concurrent identical deposits with one key make exactly one transfer', async () => {
    const alice = await register('burst');
    const key = `burst-${randomUUID()}`;
    const responses = await Promise.all(Array.from({ length: 100 }, () => deposit(alice, 1_234, key)));
    const created = responses.filter((response) => response.status === 201);
    const others = responses.filter((response) => response.status !== 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    for (const response of created) expect(response.body).toEqual(created[0]!.body);
    for (const response of others) expectError(response, 409, 'IDEMPOTENCY_REQUEST_IN_PROGRESS');
    expect(await depositRows(alice.did)).toBe(1);
    expect(await balanceOf(alice)).toMatchObject({ available: 1_234, total_deposited: 1_234 });
    const replay = await deposit(alice, 1_234, key);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(created[0]!.body);
  });
});
