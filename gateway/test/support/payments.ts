import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type RunningStack, repositoryRoot, startStack } from '@zerostate/testkit';
import pg from 'pg';
import { expect } from 'vitest';
import { call, type JsonResponse } from './http.js';

const password = 'a long enough password';

/** A stack whose limits leave room for a payments test file's traffic. */
export function startPaymentsStack(): Promise<RunningStack> {
  return startStack({
    env: {
      BCRYPT_COST: '4',
      RATE_LIMIT_CAPACITY: '10000',
      RATE_LIMIT_REFILL_PER_MINUTE: '100000',
      LOGIN_LIMIT_PER_ACCOUNT_PER_MINUTE: '100',
      LOGIN_LIMIT_PER_IP_PER_MINUTE: '1000',
      API_KEY_LOOKUP_BURST: '1000',
    },
  });
}

export interface Caller {
  email: string;
  token: string;
  did: string;
}

export interface Balance {
  owner_did: string;
  available: number;
  held: number;
  in_channels: number;
  total_deposited: number;
  total_withdrawn: number;
}

export interface Channel {
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

export function expectError(response: JsonResponse, status: number, code: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expect((response.body.error as { code: string }).code).toBe(code);
}

/** HTTP helpers for the payments tests, over the stack `stack()` returns once started. */
export function paymentsClient(stack: () => RunningStack) {
  async function register(label: string): Promise<Caller> {
    const email = `${label}.${randomUUID()}@example.com`;
    const response = await call<{ access_token: string; user: { did: string } }>(
      stack().baseUrl,
      'POST',
      '/api/v1/auth/register',
      { body: { email, password } },
    );
    expect(response.status).toBe(201);
    return { email, token: response.body.access_token, did: response.body.user.did };
  }

  async function apiKey(owner: Caller, scopes: string[]): Promise<string> {
    const created = await call(stack().baseUrl, 'POST', '/api/v1/api-keys', {
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
      {
        cwd: repositoryRoot,
        env: { ...process.env, AUTH_DATABASE_URL: stack().services.auth!.databaseUrl },
        encoding: 'utf8',
      },
    );
    const login = await call<{ access_token: string }>(stack().baseUrl, 'POST', '/api/v1/auth/login', {
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
    call<T>(stack().baseUrl, method, `/api/v1${path}`, {
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
    const client = new pg.Client({ connectionString: stack().services['payment-channel']!.databaseUrl });
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

  return { register, apiKey, admin, api, deposit, balanceOf, openChannel, query, depositRows, moneySnapshot };
}
