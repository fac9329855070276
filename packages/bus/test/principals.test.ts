import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { generateBusKey, parseSigningKeys, parseTrustedKeys } from '@zerostate/config';
import { defineEndpoint, type Principal } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { createLogger, createRegistry } from '@zerostate/observability';
import { metricValue, startNatsServer, type TestServer } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import {
  connectBus,
  createPrincipalSigner,
  createPrincipalVerifier,
  decodeJson,
  encodeCallHeaders,
  encodeJson,
  endpoint,
  generateBusTrust,
  type PrincipalSigner,
  request,
  serveEndpoints,
  servicePrincipal,
} from '../src/index.js';

/**
 * Attacks on the bus as a process on the same NATS would make them: every principal that is
 * not signed by a trusted key, for this subject, this request and this body, within its
 * lifetime, is refused with UNAUTHENTICATED and counted, and the handler never runs.
 */
const debit = defineEndpoint({
  service: 'trusttest',
  name: 'debit',
  request: z.strictObject({ amount: z.number().int() }),
  response: z.object({ debited: z.number(), by: z.string() }),
  errors: [],
  timeoutMs: 2_000,
});
const credit = defineEndpoint({
  service: 'trusttest',
  name: 'credit',
  request: z.strictObject({ amount: z.number().int() }),
  response: z.object({ credited: z.number() }),
  errors: [],
  timeoutMs: 2_000,
});

const hold = defineEndpoint({
  service: 'trusttest',
  name: 'hold',
  request: z.strictObject({}),
  response: z.object({ by: z.string() }),
  errors: [],
  timeoutMs: 2_000,
  callers: ['task'],
});

const gateway = generateBusTrust('trusttest');
const task = generateBusTrust('trusttest', 'task');
const auction = generateBusTrust('trusttest', 'auction');
const registry = createRegistry('trusttest');
const victim: Principal = {
  kind: 'user',
  user_id: randomUUID(),
  did: 'did:zerostate:user:victim',
  roles: ['user', 'admin'],
  is_system: false,
};
let server: TestServer;
let nc: NatsConnection;
let handled = 0;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectBus({ servers: server.url, name: 'trust-test' });
  await serveEndpoints(nc, {
    name: 'trusttest',
    version: '0.0.1',
    logger: createLogger({ service: 'trusttest', level: 'silent' }),
    registry,
    verifier: createPrincipalVerifier({
      trusted: parseTrustedKeys([gateway, task, auction].map((trust) => trust.trustedKeys).join(',')),
    }),
    registrations: [
      endpoint(debit, async (input, context) => {
        handled += 1;
        if (!context.principal) throw new AppError('UNAUTHENTICATED');
        return { debited: input.amount, by: context.principal.did };
      }),
      endpoint(credit, async (input) => {
        handled += 1;
        return { credited: input.amount };
      }),
      endpoint(hold, async (_input, context) => {
        handled += 1;
        return { by: context.principal?.did ?? 'nobody' };
      }),
    ],
  });
});
afterAll(async () => {
  await nc?.drain();
  await server?.stop();
});

/** Sends `body` to `subject` with `token` as the principal header, as a hand-rolled client would. */
async function send(subject: string, body: unknown, token: string, requestId: string = randomUUID()) {
  const headers = encodeCallHeaders({ requestId }, token);
  const reply = await nc.request(subject, encodeJson(body), { headers, timeout: 2_000 });
  return decodeJson(reply.data) as { ok: boolean; error?: { code: string } };
}

/** A token signed by `signer` for a call, bent by `bend` before it goes out. */
function tokenFor(
  signer: PrincipalSigner,
  principal: Principal,
  binding: { subject?: string; body?: unknown; requestId?: string } = {},
) {
  return signer.sign(principal, {
    subject: binding.subject ?? debit.subject,
    requestId: binding.requestId ?? 'req-signed',
    body: encodeJson(binding.body ?? { amount: 5 }),
  });
}

async function expectRefused(
  reason: string,
  attempt: () => Promise<{ ok: boolean; error?: { code: string } }>,
) {
  const before = handled;
  const counted = await metricValue(registry, 'nats_principal_rejected_total', { reason });
  const reply = await attempt();
  expect(reply).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });
  expect(handled, 'the handler must not run').toBe(before);
  expect(await metricValue(registry, 'nats_principal_rejected_total', { reason })).toBe(counted + 1);
}

describe('when a principal reaches a service', () => {
  test('then one the gateway signed for this call is accepted and reaches the handler', async () => {
    const reply = await request(
      nc,
      debit,
      { amount: 5 },
      { requestId: randomUUID(), principal: victim },
      {
        signer: gateway.signer,
      },
    );
    expect(reply).toEqual({ debited: 5, by: victim.did });
  });

  test('then a hand-written JSON principal, as every process could send before, is refused', async () => {
    await expectRefused('unsigned', () => send(debit.subject, { amount: 1_000 }, JSON.stringify(victim)));
  });

  test('then a token signed with another key under the gateway name is refused', async () => {
    const forger = createPrincipalSigner({
      issuer: 'gateway',
      keys: parseSigningKeys(`trusttest=${generateBusKey()}`),
    });
    await expectRefused('bad_signature', () =>
      send(debit.subject, { amount: 5 }, tokenFor(forger, victim, { requestId: 'r1' }), 'r1'),
    );
  });

  test('then a token from an issuer nobody trusts is refused', async () => {
    const stranger = generateBusTrust('trusttest', 'stranger');
    await expectRefused('unknown_issuer', () =>
      send(
        debit.subject,
        { amount: 5 },
        tokenFor(stranger.signer, servicePrincipal('stranger'), { requestId: 'r2' }),
        'r2',
      ),
    );
  });

  test('then an expired token is refused', async () => {
    // The trusted key, signing as it would have a minute ago.
    const earlier = createPrincipalSigner({
      issuer: 'gateway',
      keys: parseSigningKeys(gateway.signingKeys),
      now: () => Date.now() - 60_000,
    });
    await expectRefused('expired', () =>
      send(debit.subject, { amount: 5 }, tokenFor(earlier, victim, { requestId: 'r3' }), 'r3'),
    );
  });

  test('then a token signed for another subject is refused where it is replayed', async () => {
    const forCredit = tokenFor(gateway.signer, victim, { subject: credit.subject, requestId: 'r4' });
    await expectRefused('wrong_subject', () => send(debit.subject, { amount: 5 }, forCredit, 'r4'));
  });

  test('then a token replayed with another body or another request id is refused', async () => {
    const signed = tokenFor(gateway.signer, victim, { body: { amount: 5 }, requestId: 'r5' });
    await expectRefused('wrong_body', () => send(debit.subject, { amount: 5_000_000 }, signed, 'r5'));
    await expectRefused('wrong_request', () => send(debit.subject, { amount: 5 }, signed, 'r6'));
  });

  test('then a trusted service signing for a user, or the gateway signing for a service, is refused', async () => {
    const both = createPrincipalVerifier({
      trusted: parseTrustedKeys(`${gateway.trustedKeys},${task.trustedKeys}`),
    });
    const binding = { subject: debit.subject, requestId: 'r7', body: encodeJson({ amount: 5 }) };
    expect(() => both.verify(task.signer.sign(victim, binding), binding)).toThrow(/issuer_mismatch/);
    expect(() => both.verify(gateway.signer.sign(servicePrincipal('task'), binding), binding)).toThrow(
      /issuer_mismatch/,
    );
    expect(both.verify(task.signer.sign(servicePrincipal('task'), binding), binding)).toMatchObject({
      kind: 'service',
      service: 'task',
      did: 'did:zerostate:service:task',
    });
  });

  test('then garbage in the header is refused as malformed', async () => {
    await expectRefused('malformed', () => send(debit.subject, { amount: 5 }, 'v1.not-base64-json.sig'));
  });
});

describe('when a service calls another as itself', () => {
  test('then the services its contract lists get through and any other trusted service is refused', async () => {
    const call = (trust: typeof task, service: string) =>
      request(
        nc,
        hold,
        {},
        { requestId: randomUUID(), principal: servicePrincipal(service) },
        { signer: trust.signer },
      );
    expect(await call(task, 'task')).toEqual({ by: 'did:zerostate:service:task' });
    const before = handled;
    await expect(call(auction, 'auction')).rejects.toMatchObject({ code: 'CALLER_NOT_ALLOWED' });
    await expect(
      request(
        nc,
        debit,
        { amount: 1 },
        { requestId: randomUUID(), principal: servicePrincipal('task') },
        { signer: task.signer },
      ),
    ).rejects.toMatchObject({ code: 'CALLER_NOT_ALLOWED' });
    expect(handled).toBe(before);
    expect(
      await metricValue(registry, 'nats_principal_rejected_total', {
        subject: hold.subject,
        reason: 'caller_not_allowed',
      }),
    ).toBe(1);
  });
});

describe('the key settings', () => {
  test('when they are wrong, then the message names the setting and never echoes the value', () => {
    const secret = 'c2VjcmV0LXZhbHVlLXRoYXQtaXMtbm90LWEta2V5';
    expect(() => parseSigningKeys(`payment=${secret}`)).toThrow(/BUS_SIGNING_KEYS.*payment.*32 bytes/);
    expect(() => parseSigningKeys(`payment=${secret}`)).not.toThrow(new RegExp(secret));
    expect(() => parseSigningKeys(`payment=${generateBusKey()},payment=${generateBusKey()}`)).toThrow(
      /twice/,
    );
    expect(() => parseTrustedKeys(`gateway=${secret}`)).toThrow(/BUS_TRUSTED_KEYS.*gateway/);
    expect(() => parseTrustedKeys('')).toThrow(/at least one link/);
    expect(() => parseTrustedKeys('=abc')).toThrow(/<name>=<key>/);
  });

  test('when a caller has no key for a service, then it cannot sign a call to it', () => {
    expect(() =>
      gateway.signer.sign(victim, { subject: 'svc.payment.withdraw', requestId: 'r9', body: encodeJson({}) }),
    ).toThrow(/no key for payment/);
  });

  test('when an issuer has two keys while rotating, then tokens of either verify', () => {
    const next = generateBusKey();
    const trusted = parseTrustedKeys(`${gateway.trustedKeys},gateway=${next}`);
    const verifier = createPrincipalVerifier({ trusted });
    const binding = { subject: debit.subject, requestId: 'r8', body: encodeJson({}) };
    const nextSigner = createPrincipalSigner({
      issuer: 'gateway',
      keys: parseSigningKeys(`trusttest=${next}`),
    });
    expect(verifier.verify(gateway.signer.sign(victim, binding), binding).did).toBe(victim.did);
    expect(verifier.verify(nextSigner.sign(victim, binding), binding).did).toBe(victim.did);
  });
});
