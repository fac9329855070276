import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type RunningStack, repositoryRoot, startStack } from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call, type JsonResponse } from './support/http.js';

/**
 * Payments through the whole system: gateway, auth and payment-channel run as separate processes;
 * the test talks HTTP only, and reads the payment database directly to check what was (not)
 * written.
 */
let system: RunningStack;
const password = 'a long enough password';

beforeAll(async () => {
  system = await startStack({
    env: {
      BCRYPT_COST: '4',
      RATE_LIMIT_CAPACITY: '10000',
      RATE_LIMIT_REFILL_PER_MINUTE: '100000',
      LOGIN_LIMIT_PER_ACCOUNT_PER_MINUTE: '100',
      LOGIN_LIMIT_PER_IP_PER_MINUTE: '1000',
      API_KEY_LOOKUP_BURST: '1000',
    },
  });
});
afterAll(async () => {
  await system?.stop();
});

interface Caller {
  email: string;
  token: string;
  did: string;
}

interface Balance {
  owner_did: string;
  available: number;
  held: number;
  in_channels: number;
  total_deposited: number;
  total_withdrawn: number;
}

interface Channel {
  id: string;
  payer_did: string;
  payee_did: string;
  status: string;
  deposit: number;
  paid: number;
  sequence_number: number;
  settled_amount: number | null;
  refunded_amount: number | null;
}

async function register(label: string): Promise<Caller> {
  const email = `${label}.${randomUUID()}@example.com`;
  const response = await call<{ access_token: string; user: { did: string } }>(
    system.baseUrl,
    'POST',
    '/api/v1/auth/register',
    { body: { email, password } },
  );
  expect(response.status).toBe(201);
  return { email, token: response.body.access_token, did: response.body.user.did };
}

async function apiKey(owner: Caller, scopes: string[]): Promise<string> {
  const created = await call(system.baseUrl, 'POST', '/api/v1/api-keys', {
    token: owner.token,
    body: { name: 'payments test', scopes },
  });
  expect(created.status).toBe(201);
  return String(created.body.key);
}

/** What an operator runs to make an admin: the auth service's command with database access. */
async function admin(): Promise<Caller> {
  const user = await register('admin');
  execFileSync(
    process.execPath,
    [
      '--conditions=@zerostate/source',
      '--import',
      'tsx',
      'services/auth/src/grant-admin.ts',
      '--email',
      user.email,
    ],
    { cwd: repositoryRoot, env: { ...process.env, AUTH_DATABASE_URL: system.databaseUrl }, encoding: 'utf8' },
  );
  const login = await call<{ access_token: string }>(system.baseUrl, 'POST', '/api/v1/auth/login', {
    body: { email: user.email, password },
  });
  expect(login.status).toBe(200);
  return { ...user, token: login.body.access_token };
}

const api = <T = Record<string, unknown>>(
  method: 'GET' | 'POST',
  path: string,
  options: { caller?: Caller; apiKey?: string; body?: unknown; key?: string } = {},
): Promise<JsonResponse<T>> =>
  call<T>(system.baseUrl, method, `/api/v1${path}`, {
    ...(options.caller ? { token: options.caller.token } : {}),
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(options.key === undefined ? {} : { headers: { 'Idempotency-Key': options.key } }),
  });

async function deposit(caller: Caller, amount: number, key?: string) {
  return api<{ transfer_id: string; kind: string; amount: number; balance: Balance }>(
    'POST',
    '/payments/deposit',
    { caller, body: { amount }, ...(key === undefined ? {} : { key }) },
  );
}

async function balanceOf(caller: Caller): Promise<Balance> {
  const response = await api<Balance>('GET', '/payments/balance', { caller });
  expect(response.status).toBe(200);
  return response.body;
}

async function openChannel(payer: Caller, payee: Caller, amount: number): Promise<Channel> {
  const opened = await api<Channel>('POST', '/payments/channels', {
    caller: payer,
    body: { payee_did: payee.did, amount },
  });
  expect(opened.status).toBe(201);
  return opened.body;
}

async function query<Row extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: system.paymentDatabaseUrl });
  await client.connect();
  try {
    return (await client.query<Row>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** Deposit transfers credited to `did`'s account. */
async function depositRows(did: string): Promise<number> {
  const [row] = await query<{ count: string }>(
    `select count(distinct t.id) as count from transfers t
       join ledger_entries e on e.transfer_id = t.id
       join accounts a on a.id = e.account_id
     where a.owner_did = $1 and t.kind = 'deposit'`,
    [did],
  );
  return Number(row!.count);
}

/** Everything the money tables hold, to show a refused request changed nothing. */
async function moneySnapshot() {
  const [row] = await query<Record<string, string>>(
    `select (select count(*) from transfers) as transfers,
            (select count(*) from ledger_entries) as entries,
            (select count(*) from accounts) as accounts,
            (select coalesce(sum(available), 0) from accounts) as available,
            (select coalesce(sum(total_deposited), 0) from accounts) as deposited,
            (select count(*) from idempotency_records) as idempotency_records`,
  );
  return row!;
}

function expectError(response: JsonResponse, status: number, code: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect((response.body.error as { code: string }).code).toBe(code);
}

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
