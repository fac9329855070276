import { randomUUID } from 'node:crypto';
import {
  connectBus,
  endpoint,
  type HandlerContext,
  type NatsConnection,
  serveEndpoints,
} from '@zerostate/bus';
import { type Balance, paymentEndpoints } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { createLogger, createRegistry } from '@zerostate/observability';
import { startNatsServer } from '@zerostate/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { gatewayTrust } from './support/bus-trust.js';
import { call } from './support/http.js';
import { startGateway } from './support/in-process.js';
import { startTestSigner } from './support/test-signer.js';

type Server = Awaited<ReturnType<typeof startNatsServer>>;
type Signer = Awaited<ReturnType<typeof startTestSigner>>;
type Gateway = Awaited<ReturnType<typeof startGateway>>;

interface Received {
  subject: string;
  idempotencyKey: string | undefined;
}

/**
 * Stands in for the payment service in this gateway-only test: it answers the real payment
 * contracts through the real handler adapter and records the Idempotency-Key each call carried in
 * its NATS headers. The real service's replay behaviour is tested in payments.test.ts.
 */
async function startPaymentStub(natsUrl: string) {
  const nc: NatsConnection = await connectBus({ servers: natsUrl, name: 'payment-stub' });
  const received: Received[] = [];
  const balanceOf = (context: HandlerContext): Balance => ({
    owner_did: context.principal?.did ?? 'did:zerostate:user:nobody',
    currency: 'ZSC',
    available: 0,
    held: 0,
    in_channels: 0,
    total_deposited: 0,
    total_withdrawn: 0,
  });
  const record = (subject: string, context: HandlerContext) => {
    received.push({ subject, idempotencyKey: context.idempotencyKey });
  };
  const service = await serveEndpoints(nc, {
    name: 'payment',
    version: '0.0.0',
    logger: createLogger({ service: 'payment-stub', level: 'silent' }),
    registry: createRegistry('payment-stub'),
    verifier: gatewayTrust.payment.verifier,
    registrations: [
      endpoint(paymentEndpoints.deposit, async (input, context) => {
        record(paymentEndpoints.deposit.subject, context);
        return {
          transfer_id: randomUUID(),
          kind: 'deposit' as const,
          amount: input.amount,
          created_at: new Date().toISOString(),
          balance: balanceOf(context),
        };
      }),
      endpoint(paymentEndpoints.balance, async (_input, context) => {
        record(paymentEndpoints.balance.subject, context);
        return balanceOf(context);
      }),
      endpoint(paymentEndpoints.closeChannel, async (_input, context) => {
        record(paymentEndpoints.closeChannel.subject, context);
        throw new AppError('NOT_FOUND');
      }),
    ],
  });
  return {
    received,
    stop: async () => {
      await service.stop();
      await nc.drain();
    },
  };
}

describe('when clients send an Idempotency-Key through the gateway', () => {
  let nats: Server;
  let signer: Signer;
  let stub: Awaited<ReturnType<typeof startPaymentStub>>;
  let gateway: Gateway;
  let token: string;

  beforeAll(async () => {
    nats = await startNatsServer();
    signer = await startTestSigner(nats.url);
    stub = await startPaymentStub(nats.url);
    gateway = await startGateway({ NATS_URL: nats.url, RATE_LIMIT_CAPACITY: '1000' });
    token = await signer.sign();
  });
  afterAll(async () => {
    await gateway?.stop();
    await stub?.stop();
    await signer?.stop();
    await nats?.stop();
  });
  beforeEach(() => {
    stub.received.length = 0;
  });

  const deposit = (headers: Record<string, string>, body: unknown = { amount: 100 }) =>
    call(gateway.baseUrl, 'POST', '/api/v1/payments/deposit', { token, body, headers });

  test('then a valid key on an idempotent route reaches the service unchanged', async () => {
    const key = 'order-42:attempt/1~ok';
    const response = await deposit({ 'Idempotency-Key': key });
    expect(response.status).toBe(201);
    expect(stub.received).toEqual([{ subject: 'svc.payment.deposit', idempotencyKey: key }]);
  });

  test('then a key of exactly 255 visible characters is accepted and forwarded', async () => {
    const key = `${'!~'.repeat(127)}k`;
    expect(key).toHaveLength(255);
    const response = await deposit({ 'Idempotency-Key': key });
    expect(response.status).toBe(201);
    expect(stub.received.map((entry) => entry.idempotencyKey)).toEqual([key]);
  });

  test('then without a key the call goes through with no key forwarded', async () => {
    const response = await deposit({});
    expect(response.status).toBe(201);
    expect(stub.received).toEqual([{ subject: 'svc.payment.deposit', idempotencyKey: undefined }]);
  });

  test.each([
    ['256 characters', 'k'.repeat(256)],
    ['a space inside', 'order 42'],
    ['an empty value', ''],
    ['a tab inside', 'order\t42'],
    ['a non-ASCII character', 'commande-é'],
  ])('then a key with %s is 400 VALIDATION_FAILED and the service is never called', async (_name, key) => {
    const response = await call(gateway.baseUrl, 'POST', '/api/v1/payments/deposit', {
      token,
      body: { amount: 100 },
      headers: { 'Idempotency-Key': Buffer.from(key, 'utf8').toString('latin1') },
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      error: {
        code: 'VALIDATION_FAILED',
        details: [{ path: 'Idempotency-Key', code: 'invalid_format', message: expect.any(String) }],
      },
    });
    // The refused key is never echoed back (it may be something the client considers private).
    if (key.length > 0) expect(JSON.stringify(response.body)).not.toContain(key.slice(0, 5));
    expect(stub.received).toEqual([]);
  });

  test('then a malformed key and a bad body are reported together, and nothing is called', async () => {
    const response = await deposit({ 'Idempotency-Key': 'has space' }, { amount: 1.5 });
    expect(response.status).toBe(400);
    const details = (response.body.error as { details: { path: string }[] }).details;
    expect(details.map((detail) => detail.path)).toEqual(['Idempotency-Key', 'amount']);
    expect(stub.received).toEqual([]);
  });

  test('then access is checked first: an anonymous caller with a malformed key gets 401', async () => {
    const response = await call(gateway.baseUrl, 'POST', '/api/v1/payments/deposit', {
      body: { amount: 100 },
      headers: { 'Idempotency-Key': 'has space' },
    });
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });
  });

  test('then a route with a path parameter forwards the key too', async () => {
    const response = await call(gateway.baseUrl, 'POST', `/api/v1/payments/channels/${randomUUID()}/close`, {
      token,
      headers: { 'Idempotency-Key': 'close-1' },
    });
    expect(response.status).toBe(404);
    expect(stub.received).toEqual([{ subject: 'svc.payment.channel.close', idempotencyKey: 'close-1' }]);
  });

  test('then a route that is not idempotent ignores the header, valid or not', async () => {
    const valid = await call(gateway.baseUrl, 'GET', '/api/v1/payments/balance', {
      token,
      headers: { 'Idempotency-Key': 'read-1' },
    });
    expect(valid.status).toBe(200);
    const malformed = await call(gateway.baseUrl, 'GET', '/api/v1/payments/balance', {
      token,
      headers: { 'Idempotency-Key': 'not a key' },
    });
    expect(malformed.status).toBe(200);
    expect(stub.received).toEqual([
      { subject: 'svc.payment.balance', idempotencyKey: undefined },
      { subject: 'svc.payment.balance', idempotencyKey: undefined },
    ]);
  });
});
