import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call } from './support/http.js';
import { type RunningSystem, startSystem } from './support/system.js';

let system: RunningSystem;
beforeAll(async () => {
  system = await startSystem({ env: { BCRYPT_COST: '4', RATE_LIMIT_CAPACITY: '1000' } });
});
afterAll(async () => {
  await system?.stop();
});

async function countRows(sql: string, values: unknown[]): Promise<number> {
  const client = new pg.Client({ connectionString: system.databaseUrl });
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

describe('when the auth service is stopped', () => {
  test('then an auth route answers 503 within 1 s and /ready says why, and recovers when it returns', async () => {
    await system.auth.stop();
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

    await system.restartAuth();
    expect((await fetch(`${system.baseUrl}/ready`)).status).toBe(200);
  });
});
