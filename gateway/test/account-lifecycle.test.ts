import { randomUUID } from 'node:crypto';
import type { RunningStack } from '@zerostate/testkit';
import { waitUntil } from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call } from './support/http.js';
import { type Caller, expectError, paymentsClient, startPaymentsStack } from './support/payments.js';

/**
 * The account lifecycle over HTTP against the real gateway, auth and payment processes: a user's
 * export and erasure (GDPR), and an admin's deactivation, reactivation and revocations. After
 * each revocation every credential the user held is tried again, through the gateway that routed
 * the revocation and through other replicas.
 */
let system: RunningStack;
let admin: Caller;
const password = 'a long enough password';

beforeAll(async () => {
  system = await startPaymentsStack();
  admin = await client.admin();
});
afterAll(async () => {
  await system?.stop();
});

const client = paymentsClient(() => system);

interface Account {
  email: string;
  userId: string;
  did: string;
  token: string;
  refreshToken: string;
  key: string;
}

/** A fresh user with a session (access and refresh token) and an API key. */
async function account(label: string): Promise<Account> {
  const email = `${label}.${randomUUID()}@example.com`;
  const registered = await call<{
    access_token: string;
    refresh_token: string;
    user: { id: string; did: string };
  }>(system.baseUrl, 'POST', '/api/v1/auth/register', { body: { email, password } });
  expect(registered.status).toBe(201);
  const caller = { email, token: registered.body.access_token, did: registered.body.user.did };
  const key = await client.apiKey(caller, ['users:read', 'payments:read', 'payments:write']);
  return {
    ...caller,
    userId: registered.body.user.id,
    refreshToken: registered.body.refresh_token,
    key,
  };
}

const request = (baseUrl: string, method: string, path: string, options: Parameters<typeof call>[3] = {}) =>
  call(baseUrl, method, `/api/v1${path}`, options);

/** What each of the user's credentials gets now, through `baseUrl`. */
async function credentialsOf(user: Account, baseUrl = system.baseUrl) {
  const [access, key, refresh, login] = await Promise.all([
    request(baseUrl, 'GET', '/users/me', { token: user.token }),
    request(baseUrl, 'GET', '/users/me', { apiKey: user.key }),
    request(baseUrl, 'POST', '/auth/refresh', { body: { refresh_token: user.refreshToken } }),
    request(baseUrl, 'POST', '/auth/login', { body: { email: user.email, password } }),
  ]);
  return {
    access: access.status,
    key: key.status,
    refresh: refresh.status,
    login: login.status,
  };
}

async function authQuery<Row extends pg.QueryResultRow>(sql: string, values: unknown[] = []) {
  const db = new pg.Client({ connectionString: system.services.auth!.databaseUrl });
  await db.connect();
  try {
    return (await db.query<Row>(sql, values)).rows;
  } finally {
    await db.end();
  }
}

describe('when a user exports their data', () => {
  test('then the export holds profile, roles, keys, sessions and payments, and no secret', async () => {
    const user = await account('exporter');
    expect((await client.deposit(user, 2_500_000)).status).toBe(201);
    const exported = await request(system.baseUrl, 'GET', '/users/me/export', { token: user.token });
    expect(exported.status).toBe(200);
    const body = exported.body as {
      user: { id: string; email: string; roles: string[] };
      api_keys: { prefix: string }[];
      sessions: { id: string; ip: string | null }[];
      payments: { balance: { available: number }; history: { kind: string; amount: number }[] };
      truncated: boolean;
    };
    expect(body.user).toMatchObject({ id: user.userId, email: user.email, roles: ['user'] });
    expect(body.api_keys).toHaveLength(1);
    expect(user.key.startsWith(body.api_keys[0]!.prefix)).toBe(true);
    expect(body.sessions).toHaveLength(1);
    expect(body.payments.balance.available).toBe(2_500_000);
    expect(body.payments.history).toMatchObject([{ kind: 'deposit', amount: 2_500_000 }]);
    expect(body.truncated).toBe(false);

    const text = JSON.stringify(body);
    for (const secret of [user.key, user.token, user.refreshToken, password])
      expect(text).not.toContain(secret);
    expect(text).not.toMatch(/key_hash|token_hash|password|\$2[aby]\$/);
    const audited = await authQuery(
      "SELECT 1 FROM audit_log WHERE action = 'data_exported' AND actor_user_id = $1",
      [user.userId],
    );
    expect(audited).toHaveLength(1);
  });

  test('then an API key cannot export (session only)', async () => {
    const user = await account('exporter-key');
    expectError(
      await request(system.baseUrl, 'GET', '/users/me/export', { apiKey: user.key }),
      403,
      'API_KEY_NOT_ALLOWED',
    );
  });
});

describe('when a user erases their account', () => {
  test('then money must go first, the password confirms, and afterwards every credential fails', async () => {
    const user = await account('eraser');
    const replica = await system.addGateway();
    // Both gateways have verified the token and cached the key before the erasure.
    expect(await credentialsOf({ ...user, refreshToken: '' }, replica.baseUrl)).toMatchObject({
      access: 200,
      key: 200,
    });
    expect((await client.deposit(user, 1_000_000)).status).toBe(201);

    const erase = (options: Parameters<typeof call>[3]) =>
      request(system.baseUrl, 'DELETE', '/users/me', options);
    expectError(await erase({ token: user.token, body: { password } }), 409, 'ACCOUNT_NOT_EMPTY');
    expectError(await erase({ apiKey: user.key, body: { password } }), 403, 'API_KEY_NOT_ALLOWED');
    expectError(
      await erase({ token: user.token, body: { password: 'not the password!' } }),
      401,
      'INVALID_CREDENTIALS',
    );
    expectError(await erase({ token: user.token, body: {} }), 400, 'VALIDATION_FAILED');
    expect((await credentialsOf(user)).access).toBe(200);

    const withdrawn = await request(system.baseUrl, 'POST', '/payments/withdraw', {
      token: user.token,
      body: { amount: 1_000_000 },
    });
    expect(withdrawn.status).toBe(201);
    const erased = await erase({ token: user.token, body: { password } });
    expect(erased.status).toBe(204);

    // At once through the gateway that routed it.
    expect(await credentialsOf(user)).toEqual({ access: 401, key: 401, refresh: 401, login: 401 });
    // Through another replica as soon as the event arrives, and through one started afterwards.
    await waitUntil('the replica refuses the erased user', async () => {
      const now = await credentialsOf(user, replica.baseUrl);
      return now.access === 401 && now.key === 401;
    });
    const late = await system.addGateway();
    expect(await credentialsOf(user, late.baseUrl)).toEqual({
      access: 401,
      key: 401,
      refresh: 401,
      login: 401,
    });

    // PII is gone; the row, its DID and the audit trail stay, without IPs.
    const [row] = await authQuery<{ email: string; name: string | null; is_active: boolean; did: string }>(
      'SELECT email, name, is_active, did FROM users WHERE id = $1',
      [user.userId],
    );
    expect(row).toEqual({ email: `erased:${user.userId}`, name: null, is_active: false, did: user.did });
    expect(await authQuery('SELECT 1 FROM refresh_tokens WHERE user_id = $1', [user.userId])).toHaveLength(0);
    expect(
      await authQuery(
        'SELECT 1 FROM audit_log WHERE (actor_user_id = $1 OR target_id = $2) AND ip IS NOT NULL',
        [user.userId, user.userId],
      ),
    ).toHaveLength(0);
    expect(
      await authQuery("SELECT 1 FROM audit_log WHERE action = 'account_erased' AND actor_user_id = $1", [
        user.userId,
      ]),
    ).toHaveLength(1);

    // The address is free again: a new account, a new id.
    const again = await request(system.baseUrl, 'POST', '/auth/register', {
      body: { email: user.email, password },
    });
    expect(again.status).toBe(201);
    expect((again.body.user as { id: string }).id).not.toBe(user.userId);

    // The ledger keeps the erased user's movements and still balances.
    expect(
      await client.query('SELECT 1 FROM accounts WHERE owner_did = $1 AND closed_at IS NOT NULL', [user.did]),
    ).toHaveLength(1);
    const report = await request(system.baseUrl, 'GET', '/admin/payments/reconciliation', {
      token: admin.token,
    });
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ ok: true, violations: [] });
  });
});

describe('when an admin manages users', () => {
  const adminCall = (method: string, path: string, body?: unknown) =>
    request(system.baseUrl, method, path, { token: admin.token, ...(body === undefined ? {} : { body }) });

  test('then deactivation stops every credential at once and reactivation lets the user sign in again', async () => {
    const user = await account('deactivated');
    const deactivated = await adminCall('POST', `/admin/users/${user.userId}/deactivate`, {
      reason: 'abuse report',
    });
    expect(deactivated.status).toBe(200);
    expect(deactivated.body).toMatchObject({ id: user.userId, is_active: false, erased_at: null });
    expect(await credentialsOf(user)).toEqual({ access: 401, key: 401, refresh: 401, login: 401 });

    const reactivated = await adminCall('POST', `/admin/users/${user.userId}/reactivate`);
    expect(reactivated.status).toBe(200);
    expect(reactivated.body).toMatchObject({ is_active: true, deactivated_at: null });
    // Sign-in works again; the sessions the deactivation ended stay ended.
    expect(await credentialsOf(user)).toMatchObject({ access: 401, refresh: 401, login: 200 });
    // The key works again once the gateway's short memory of its refusal (2 s) has passed.
    await waitUntil('the key works again', async () => (await credentialsOf(user)).key === 200);
  });

  test("then revoking a user's sessions and keys ends them while the user may sign in again", async () => {
    const user = await account('revoked');
    const sessions = await adminCall('POST', `/admin/users/${user.userId}/sessions/revoke`);
    expect(sessions.status).toBe(200);
    expect(sessions.body).toMatchObject({ user_id: user.userId, refresh_tokens_revoked: 1 });
    const keys = await adminCall('POST', `/admin/users/${user.userId}/api-keys/revoke`);
    expect(keys.body).toMatchObject({ api_keys_revoked: 1 });
    expect(await credentialsOf(user)).toEqual({ access: 401, key: 401, refresh: 401, login: 200 });
  });

  test('then users are found by email prefix, id or DID, filtered by status, and paged without repeats', async () => {
    const label = `search${randomUUID().slice(0, 8)}`;
    const users = [];
    for (let index = 0; index < 5; index += 1) users.push(await account(`${label}-${index}`));
    await adminCall('POST', `/admin/users/${users[0]!.userId}/deactivate`);
    const byPrefix = await adminCall('GET', `/admin/users?q=${label}&limit=2`);
    expect(byPrefix.status).toBe(200);
    const seen: string[] = [];
    let page = byPrefix.body as { items: { id: string }[]; next_cursor: string | null };
    for (;;) {
      seen.push(...page.items.map((item) => item.id));
      if (!page.next_cursor) break;
      page = (await adminCall('GET', `/admin/users?q=${label}&limit=2&cursor=${page.next_cursor}`))
        .body as typeof page;
    }
    expect(seen.sort()).toEqual(users.map((user) => user.userId).sort());
    const deactivated = await adminCall('GET', `/admin/users?q=${label}&status=deactivated`);
    expect((deactivated.body.items as { id: string }[]).map((item) => item.id)).toEqual([users[0]!.userId]);
    const byDid = await adminCall('GET', `/admin/users?q=${encodeURIComponent(users[1]!.did)}`);
    expect((byDid.body.items as { email: string }[]).map((item) => item.email)).toEqual([users[1]!.email]);
  });

  test('then a non-admin, or an admin through an API key, is refused and nothing changes', async () => {
    const user = await account('bystander');
    const target = await account('target');
    expectError(
      await request(system.baseUrl, 'POST', `/admin/users/${target.userId}/deactivate`, {
        token: user.token,
      }),
      403,
      'FORBIDDEN',
    );
    expectError(
      await request(system.baseUrl, 'GET', '/admin/users', { apiKey: user.key }),
      403,
      'API_KEY_NOT_ALLOWED',
    );
    expectError(await adminCall('POST', `/admin/users/${randomUUID()}/deactivate`), 404, 'NOT_FOUND');
    expect((await credentialsOf(target)).access).toBe(200);
  });
});
