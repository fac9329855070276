import {
  metricTotal,
  type OtlpReceiver,
  type RunningStack,
  startOtlpReceiver,
  startStack,
} from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call } from './support/http.js';

/**
 * The end-to-end flow: gateway, auth and payment-channel run as separate processes and the test
 * talks HTTP only. Steps share state, so they run in order within one test.
 */
describe('when the gateway and the services run as separate processes', () => {
  let system: RunningStack;
  let receiver: OtlpReceiver;
  const email = `E2E.${Date.now()}@Example.com`;
  const password = 'correct horse battery staple';
  const secrets: string[] = [password];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    system = await startStack({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint } });
  });
  afterAll(async () => {
    await system?.stop();
    await receiver?.close();
  });

  test('then a user registers, logs in, refreshes, has a replayed token revoke the family, and an API key works until revoked', async () => {
    const base = system.baseUrl;
    const registered = await call(base, 'POST', '/api/v1/auth/register', {
      body: { email, password, name: 'E2E' },
    });
    expect(registered.status).toBe(201);
    expect(registered.body.token_type).toBe('Bearer');
    expect((registered.body.user as { email: string }).email).toBe(email.toLowerCase());

    const login = await call(base, 'POST', '/api/v1/auth/login', { body: { email, password } });
    expect(login.status).toBe(200);
    const accessToken = String(login.body.access_token);
    const firstRefresh = String(login.body.refresh_token);
    secrets.push(accessToken, firstRefresh, String(registered.body.refresh_token));

    const me = await call(base, 'GET', '/api/v1/users/me', { token: accessToken });
    expect(me.status).toBe(200);
    expect(me.body.email).toBe(email.toLowerCase());
    expect(String(me.body.did)).toMatch(/^did:zerostate:user:/);

    const refreshed = await call(base, 'POST', '/api/v1/auth/refresh', {
      body: { refresh_token: firstRefresh },
    });
    expect(refreshed.status).toBe(200);
    const secondRefresh = String(refreshed.body.refresh_token);
    expect(secondRefresh).not.toBe(firstRefresh);
    secrets.push(secondRefresh, String(refreshed.body.access_token));

    const replay = await call(base, 'POST', '/api/v1/auth/refresh', {
      body: { refresh_token: firstRefresh },
    });
    expect(replay.status).toBe(401);
    expect((replay.body.error as { code: string }).code).toBe('REFRESH_TOKEN_REUSED');
    const familyGone = await call(base, 'POST', '/api/v1/auth/refresh', {
      body: { refresh_token: secondRefresh },
    });
    expect(familyGone.status).toBe(401);

    const created = await call(base, 'POST', '/api/v1/api-keys', {
      token: accessToken,
      body: { name: 'ci agent', scopes: ['*:read'] },
    });
    expect(created.status).toBe(201);
    const apiKey = String(created.body.key);
    secrets.push(apiKey);
    expect(apiKey).toMatch(/^zs_[A-Za-z0-9_-]{43}$/);
    expect(String(created.body.prefix)).toBe(apiKey.slice(0, 11));

    const withKey = await call(base, 'GET', '/api/v1/users/me', { apiKey });
    expect(withKey.status).toBe(200);
    expect(withKey.body.email).toBe(email.toLowerCase());
    const asBearer = await call(base, 'GET', '/api/v1/users/me', { token: apiKey });
    expect(asBearer.status).toBe(200);

    const listed = await call<{ items: { id: string; key?: string }[] }>(base, 'GET', '/api/v1/api-keys', {
      token: accessToken,
    });
    expect(listed.body.items.map((item) => item.id)).toContain(created.body.id);
    expect(listed.body.items.every((item) => item.key === undefined)).toBe(true);

    const revoked = await call(base, 'DELETE', `/api/v1/api-keys/${created.body.id}`, { token: accessToken });
    expect(revoked.status).toBe(204);
    const afterRevoke = await call(base, 'GET', '/api/v1/users/me', { apiKey });
    expect(afterRevoke.status).toBe(401);
    expect((afterRevoke.body.error as { code: string }).code).toBe('INVALID_API_KEY');

    const bogus = await call(base, 'GET', '/api/v1/users/me', { token: 'not.a.jwt' });
    expect(bogus.status).toBe(401);

    const deposit = await call(base, 'POST', '/api/v1/payments/deposit', {
      token: accessToken,
      body: { amount: 25_000_000 },
    });
    expect(deposit.status).toBe(201);
    expect(deposit.body).toMatchObject({ kind: 'deposit', amount: 25_000_000 });
    const balance = await call(base, 'GET', '/api/v1/payments/balance', { token: accessToken });
    expect(balance.body).toMatchObject({ owner_did: me.body.did, available: 25_000_000 });
  });

  test('then one deposit produces spans from the gateway and the payment service sharing one trace id', async () => {
    const login = await call(system.baseUrl, 'POST', '/api/v1/auth/login', { body: { email, password } });
    const token = String(login.body.access_token);
    secrets.push(token, String(login.body.refresh_token));
    const deposit = await call(system.baseUrl, 'POST', '/api/v1/payments/deposit', {
      token,
      body: { amount: 1 },
    });
    expect(deposit.status).toBe(201);
    const isDepositHandler = (span: { serviceName?: string | undefined; name: string }) =>
      span.serviceName === 'payment-channel' && span.name.includes('svc.payment.deposit');
    const spans = await receiver.waitForSpans((received) => {
      const handled = received.find(isDepositHandler);
      return Boolean(
        handled &&
          received.some((span) => span.serviceName === 'gateway' && span.traceId === handled.traceId),
      );
    }, 15_000);
    const handled = spans.find(isDepositHandler)!;
    const trace = spans.filter((span) => span.traceId === handled.traceId);
    expect(new Set(trace.map((span) => span.serviceName))).toEqual(new Set(['gateway', 'payment-channel']));
    // The ledger writes are spans of the same trace (pg instrumentation).
    expect(
      trace.some((span) => span.serviceName === 'payment-channel' && /INSERT|UPDATE|pg/i.test(span.name)),
    ).toBe(true);
    // The rate limiter's Redis round trip is an attribute of the gateway's server span, not a span.
    const server = trace.find((span) => span.serviceName === 'gateway' && !span.parentSpanId);
    expect(server?.attributes['zerostate.rate_limit.default.ms']).toEqual(expect.any(Number));
    expect(trace.filter((span) => span.attributes['db.system.name'] === 'redis')).toEqual([]);
  });

  test('then one login produces spans from the gateway and the auth service sharing one trace id', async () => {
    const login = await call(system.baseUrl, 'POST', '/api/v1/auth/login', {
      body: { email, password },
    });
    expect(login.status).toBe(200);
    const spans = await receiver.waitForSpans((received) => {
      const handled = received.find(
        (span) => span.serviceName === 'auth' && span.name.includes('svc.auth.login'),
      );
      return Boolean(
        handled &&
          received.some((span) => span.serviceName === 'gateway' && span.traceId === handled.traceId),
      );
    }, 15_000);
    const handled = spans.find(
      (span) => span.serviceName === 'auth' && span.name.includes('svc.auth.login'),
    )!;
    const trace = spans.filter((span) => span.traceId === handled.traceId);
    expect(new Set(trace.map((span) => span.serviceName))).toEqual(new Set(['gateway', 'auth']));
    expect(trace.some((span) => span.serviceName === 'gateway' && !span.parentSpanId)).toBe(true);
  });

  test('then a burst past the bucket is limited with 429 and Retry-After', async () => {
    const responses = await Promise.all(
      Array.from({ length: 25 }, () => call(system.baseUrl, 'GET', '/api/v1/users/me')),
    );
    const limited = responses.filter((response) => response.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  test('then /metrics shows the named metrics with non-zero values', async () => {
    const gatewayMetrics = await (await fetch(`${system.baseUrl}/metrics`)).text();
    for (const name of [
      'http_requests_total',
      'http_request_duration_seconds_count',
      'rate_limit_requests_allowed_total',
      'rate_limit_requests_rejected_total',
      'rate_limit_buckets_active',
      'auth_api_key_validations_total',
      'auth_jwt_validation_failures_total',
      'nats_request_duration_seconds_count',
    ]) {
      expect(metricTotal(gatewayMetrics, name), name).toBeGreaterThan(0);
    }
    // The scrape itself is a request in flight while the registry is read.
    expect(metricTotal(gatewayMetrics, 'http_requests_in_flight')).toBeGreaterThan(0);
    const authMetrics = await (await fetch(`${system.services.auth!.adminUrl}/metrics`)).text();
    for (const name of [
      'auth_jwt_tokens_issued_total',
      'auth_api_key_validations_total',
      'db_connections_open',
      'db_connections_idle',
      'db_query_duration_seconds_count',
      'nats_handler_duration_seconds_count',
    ]) {
      expect(metricTotal(authMetrics, name), name).toBeGreaterThan(0);
    }
    const paymentMetrics = await (
      await fetch(`${system.services['payment-channel']!.adminUrl}/metrics`)
    ).text();
    for (const name of [
      'payment_transfers_total',
      'db_query_duration_seconds_count',
      'nats_handler_duration_seconds_count',
    ]) {
      expect(metricTotal(paymentMetrics, name), name).toBeGreaterThan(0);
    }
    expect(paymentMetrics).toContain('payment_balance_invariant_violations_total{');
    expect(metricTotal(paymentMetrics, 'payment_balance_invariant_violations_total')).toBe(0);
  });

  test('then every log line is JSON with a request_id and no secret appears in any line', async () => {
    const processes = [system.gateway, ...Object.values(system.services).map((service) => service.process)];
    expect(processes.flatMap((process) => process.errorLines)).toEqual([]);
    const lines = processes.flatMap((process) => process.lines);
    const payment = system.services['payment-channel']!.process;
    expect(payment.lines.some((line) => line.includes('"action":"deposit"'))).toBe(true);
    expect(lines.length).toBeGreaterThan(10);
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const entry of parsed) {
      expect(typeof entry.request_id === 'string' || entry.request_id === null).toBe(true);
      expect(entry).toHaveProperty('service');
      expect(entry).toHaveProperty('timestamp');
    }
    const perRequest = parsed.filter((entry) => 'duration_ms' in entry);
    expect(perRequest.length).toBeGreaterThan(10);
    for (const entry of perRequest) expect(typeof entry.request_id).toBe('string');
    for (const secret of secrets) {
      expect(lines.some((line) => line.includes(secret))).toBe(false);
    }
  });
});
