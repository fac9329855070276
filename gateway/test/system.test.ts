import { execFileSync } from 'node:child_process';
import { type RunningStack, repositoryRoot, startStack } from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call } from './support/http.js';

let system: RunningStack;
const adminEmail = `admin.${Date.now()}@example.com`;
const password = 'a long enough password';
beforeAll(async () => {
  system = await startStack({
    env: {
      BCRYPT_COST: '4',
      RATE_LIMIT_CAPACITY: '1000',
      LOGIN_LIMIT_PER_IP_PER_MINUTE: '1000',
    },
  });
});
afterAll(async () => {
  await system?.stop();
});

async function countRows(sql: string, values: unknown[]): Promise<number> {
  const client = new pg.Client({ connectionString: system.services.auth!.databaseUrl });
  await client.connect();
  try {
    const result = await client.query<{ count: string }>(sql, values);
    return Number(result.rows[0]!.count);
  } finally {
    await client.end();
  }
}

function expectSafeError(body: Record<string, unknown>, code: string) {
  const error = body.error as Record<string, unknown>;
  expect(error.code).toBe(code);
  expect(typeof error.message).toBe('string');
  expect(typeof error.request_id).toBe('string');
  expect(JSON.stringify(body)).not.toMatch(/node_modules|\.ts:\d+|\n\s+at /);
}

describe('when clients send bad input', () => {
  const register = '/api/v1/auth/register';
  const post = (path: string, body: string, contentType = 'application/json') =>
    fetch(`${system.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });

  test('then missing fields are 400 VALIDATION_FAILED with the failing path', async () => {
    const response = await call(system.baseUrl, 'POST', register, { body: { email: 'a@example.com' } });
    expect(response.status).toBe(400);
    expectSafeError(response.body, 'VALIDATION_FAILED');
    expect(JSON.stringify(response.body.error)).toContain('password');
  });

  test('then wrong types are 400 VALIDATION_FAILED', async () => {
    const response = await call(system.baseUrl, 'POST', register, { body: { email: 42, password: ['x'] } });
    expect(response.status).toBe(400);
    expectSafeError(response.body, 'VALIDATION_FAILED');
  });

  test('then unknown fields are refused with 400', async () => {
    const response = await call(system.baseUrl, 'POST', register, {
      body: { email: 'b@example.com', password: 'long enough password', is_system: true },
    });
    expect(response.status).toBe(400);
    expectSafeError(response.body, 'VALIDATION_FAILED');
  });

  test('then malformed JSON is 400 MALFORMED_JSON', async () => {
    const response = await post(register, '{"email": "c@example.com", ');
    expect(response.status).toBe(400);
    expectSafeError((await response.json()) as Record<string, unknown>, 'MALFORMED_JSON');
  });

  test('then an oversized body is 413 PAYLOAD_TOO_LARGE', async () => {
    const response = await post(
      register,
      JSON.stringify({ email: 'd@example.com', password: 'x'.repeat(200_000) }),
    );
    expect(response.status).toBe(413);
    expectSafeError((await response.json()) as Record<string, unknown>, 'PAYLOAD_TOO_LARGE');
  });

  test('then a body that is not JSON is 415', async () => {
    const response = await post(register, 'email=e@example.com', 'application/x-www-form-urlencoded');
    expect(response.status).toBe(415);
  });

  test('then a weak password is 400 WEAK_PASSWORD and no user row is written', async () => {
    const response = await call(system.baseUrl, 'POST', register, {
      body: { email: 'weak@example.com', password: 'short' },
    });
    expect(response.status).toBe(400);
    expectSafeError(response.body, 'WEAK_PASSWORD');
    expect(await countRows('select count(*) from users where email = $1', ['weak@example.com'])).toBe(0);
  });

  test('then a duplicate email (any case) is 409 EMAIL_TAKEN and nothing half-written remains', async () => {
    const email = `dup.${Date.now()}@example.com`;
    const first = await call(system.baseUrl, 'POST', register, {
      body: { email, password: 'a long enough password' },
    });
    expect(first.status).toBe(201);
    const userId = (first.body.user as { id: string }).id;
    const second = await call(system.baseUrl, 'POST', register, {
      body: { email: email.toUpperCase(), password: 'another long password' },
    });
    expect(second.status).toBe(409);
    expectSafeError(second.body, 'EMAIL_TAKEN');
    expect(await countRows('select count(*) from users where email = $1', [email])).toBe(1);
    expect(
      await countRows(
        'select count(*) from refresh_tokens r join users u on u.id = r.user_id where u.email = $1',
        [email],
      ),
    ).toBe(1);
    expect(
      await countRows(
        "select count(*) from outbox where subject = 'evt.auth.user.registered' and payload->>'user_id' = $1",
        [userId],
      ),
    ).toBe(1);
    expect(
      await countRows('select count(*) from outbox where subject = $1', ['evt.auth.user.registered']),
    ).toBe(await countRows('select count(*) from users', []));
  });

  test('then an unknown route is 404 ROUTE_NOT_FOUND in the same error shape', async () => {
    const response = await call(system.baseUrl, 'GET', '/api/v1/nope');
    expect(response.status).toBe(404);
    expectSafeError(response.body, 'ROUTE_NOT_FOUND');
  });
});

function kidOf(token: string): string {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid;
}

async function session(email: string): Promise<{ token: string; userId: string }> {
  const registered = await call(system.baseUrl, 'POST', '/api/v1/auth/register', {
    body: { email, password },
  });
  expect(registered.status).toBe(201);
  return { token: String(registered.body.access_token), userId: (registered.body.user as { id: string }).id };
}

async function apiKey(token: string, scopes: string[]): Promise<{ id: string; key: string }> {
  const created = await call(system.baseUrl, 'POST', '/api/v1/api-keys', {
    token,
    body: { name: 'k', scopes },
  });
  expect(created.status).toBe(201);
  return { id: String(created.body.id), key: String(created.body.key) };
}

describe('when callers try to reach beyond what they hold', () => {
  test('then an API key without the route scope gets 403 INSUFFICIENT_SCOPE', async () => {
    const alice = await session(`alice.${Date.now()}@example.com`);
    const bidsOnly = await apiKey(alice.token, ['bids:write']);
    const response = await call(system.baseUrl, 'GET', '/api/v1/users/me', { apiKey: bidsOnly.key });
    expect(response.status).toBe(403);
    expectSafeError(response.body, 'INSUFFICIENT_SCOPE');
  });

  test('then an API key cannot mint keys, revoke keys or change the password', async () => {
    const alice = await session(`alice2.${Date.now()}@example.com`);
    const reader = await apiKey(alice.token, ['*:read']);
    const mint = await call(system.baseUrl, 'POST', '/api/v1/api-keys', {
      apiKey: reader.key,
      body: { name: 'escalate', scopes: ['payments:write'] },
    });
    expect(mint.status).toBe(403);
    expectSafeError(mint.body, 'API_KEY_NOT_ALLOWED');
    const revoke = await call(system.baseUrl, 'DELETE', `/api/v1/api-keys/${reader.id}`, {
      apiKey: reader.key,
    });
    expect(revoke.status).toBe(403);
    const change = await call(system.baseUrl, 'POST', '/api/v1/users/me/password', {
      apiKey: reader.key,
      body: { current_password: password, new_password: 'another long password' },
    });
    expect(change.status).toBe(403);
  });

  test("then a user can neither see nor revoke another user's key (404), and the key keeps working", async () => {
    const alice = await session(`alice3.${Date.now()}@example.com`);
    const mallory = await session(`mallory.${Date.now()}@example.com`);
    const alicesKey = await apiKey(alice.token, ['*:read']);
    const revoke = await call(system.baseUrl, 'DELETE', `/api/v1/api-keys/${alicesKey.id}`, {
      token: mallory.token,
    });
    expect(revoke.status).toBe(404);
    expectSafeError(revoke.body, 'NOT_FOUND');
    const listed = await call<{ items: { id: string }[] }>(system.baseUrl, 'GET', '/api/v1/api-keys', {
      token: mallory.token,
    });
    expect(listed.body.items.map((item) => item.id)).not.toContain(alicesKey.id);
    expect((await call(system.baseUrl, 'GET', '/api/v1/users/me', { apiKey: alicesKey.key })).status).toBe(
      200,
    );
  });

  test('then a non-admin cannot rotate signing keys or change roles (403 FORBIDDEN)', async () => {
    const mallory = await session(`mallory2.${Date.now()}@example.com`);
    const rotate = await call(system.baseUrl, 'POST', '/api/v1/admin/signing-keys/rotate', {
      token: mallory.token,
      body: {},
    });
    expect(rotate.status).toBe(403);
    expectSafeError(rotate.body, 'FORBIDDEN');
    const promote = await call(system.baseUrl, 'POST', `/api/v1/admin/users/${mallory.userId}/roles`, {
      token: mallory.token,
      body: { roles: ['user', 'admin'] },
    });
    expect(promote.status).toBe(403);
  });
});

/** What an operator runs to make the first admin: a command with database access, not an HTTP call. */
function grantAdmin(email: string): string {
  return execFileSync(
    process.execPath,
    [
      '--conditions=@zerostate/source',
      '--import',
      'tsx',
      'services/auth/src/grant-admin.ts',
      '--email',
      email,
    ],
    {
      cwd: repositoryRoot,
      env: { ...process.env, AUTH_DATABASE_URL: system.services.auth!.databaseUrl },
      encoding: 'utf8',
    },
  );
}

describe('when an operator grants the first admin and that admin rotates the signing key', () => {
  test('then tokens signed before keep working, new tokens carry the new kid, and both verify at the gateway', async () => {
    const registered = await session(adminEmail);
    const before = await call(system.baseUrl, 'GET', '/api/v1/users/me', { token: registered.token });
    expect(before.body.roles).toEqual(['user']);
    expect(JSON.parse(grantAdmin(adminEmail))).toMatchObject({ email: adminEmail, changed: true });
    const login = await call(system.baseUrl, 'POST', '/api/v1/auth/login', {
      body: { email: adminEmail, password },
    });
    const admin = { token: String(login.body.access_token) };
    const bystander = await session(`bystander.${Date.now()}@example.com`);
    const me = await call(system.baseUrl, 'GET', '/api/v1/users/me', { token: admin.token });
    expect(me.body.roles).toContain('admin');

    const rotated = await call(system.baseUrl, 'POST', '/api/v1/admin/signing-keys/rotate', {
      token: admin.token,
      body: {},
    });
    expect(rotated.status).toBe(200);
    const newKid = String(rotated.body.kid);
    expect(newKid).not.toBe(kidOf(bystander.token));
    expect(rotated.body.retired_kids).toContain(kidOf(bystander.token));

    expect((await call(system.baseUrl, 'GET', '/api/v1/users/me', { token: bystander.token })).status).toBe(
      200,
    );
    const fresh = await call(system.baseUrl, 'POST', '/api/v1/auth/login', {
      body: { email: adminEmail, password },
    });
    expect(fresh.status).toBe(200);
    const freshToken = String(fresh.body.access_token);
    expect(kidOf(freshToken)).toBe(newKid);
    expect((await call(system.baseUrl, 'GET', '/api/v1/users/me', { token: freshToken })).status).toBe(200);

    const jwks = await call<{ keys: { kid: string }[] }>(system.baseUrl, 'GET', '/.well-known/jwks.json');
    expect(jwks.body.keys.map((key) => key.kid)).toEqual(
      expect.arrayContaining([newKid, kidOf(bystander.token)]),
    );
  });

  test("then the admin can change a user's roles", async () => {
    const admin = await call(system.baseUrl, 'POST', '/api/v1/auth/login', {
      body: { email: adminEmail, password },
    });
    const operator = await session(`operator.${Date.now()}@example.com`);
    const changed = await call(system.baseUrl, 'POST', `/api/v1/admin/users/${operator.userId}/roles`, {
      token: String(admin.body.access_token),
      body: { roles: ['admin', 'user'] },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.roles).toEqual(['user', 'admin']);
  });
});

describe('when the auth service is stopped', () => {
  test('then an auth route answers 503 within 1 s and /ready says why, and recovers when it returns', async () => {
    await system.services.auth!.process.stop();
    const response = await fetch(`${system.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'someone@example.com', password: 'a long enough password' }),
      signal: AbortSignal.timeout(1_000),
    });
    expect(response.status).toBe(503);
    expectSafeError((await response.json()) as Record<string, unknown>, 'SERVICE_UNAVAILABLE');

    const ready = await fetch(`${system.baseUrl}/ready`, { signal: AbortSignal.timeout(2_000) });
    expect(ready.status).toBe(503);
    const readiness = (await ready.json()) as { status: string; checks: Record<string, string> };
    expect(readiness.status).toBe('not_ready');
    expect(readiness.checks['service:auth']).toMatch(/unavailable/);
    expect(readiness.checks.nats).toBe('ok');

    await system.services.auth!.restart();
    expect((await fetch(`${system.baseUrl}/ready`)).status).toBe(200);
  });
});
