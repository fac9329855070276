import { randomUUID } from 'node:crypto';
import { createPrincipalSigner, decodeJson, encodeCallHeaders, encodeJson } from '@zerostate/bus';
import { generateBusKey, parseSigningKeys } from '@zerostate/config';
import { type Endpoint, type Principal, paymentEndpoints } from '@zerostate/contracts';
import { metricValue } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credits, type Harness, scalar, startHarness, taskService, userPrincipal } from './harness.js';

/**
 * The attack from issue 8, against the real payment service: a process on the same NATS sends
 * withdraw, deposit and escrow hold with a principal it made up. Each is refused and moves
 * nothing; the harness's own calls are signed like the gateway's and keep working.
 */
let harness: Harness;
let victim: Principal;

beforeAll(async () => {
  harness = await startHarness({ name: 'payment_trust' });
  victim = await harness.funded(credits(10));
});
afterAll(async () => harness?.stop());

/** A raw request with `token` in the principal header. */
async function sendAs(endpoint: Endpoint, body: unknown, token: string, requestId: string = randomUUID()) {
  const reply = await harness.nc.request(endpoint.subject, encodeJson(body), {
    headers: encodeCallHeaders({ requestId }, token),
    timeout: 5_000,
  });
  return decodeJson(reply.data) as { ok: boolean; error?: { code: string } };
}

/** What an attack could change: balances, ledger and escrows. */
const moneyState = async () => ({
  accounts: await scalar(
    harness.db,
    'SELECT json_agg(a ORDER BY owner_did)::text FROM (SELECT owner_did, available, held FROM accounts) a',
  ),
  transfers: await scalar(harness.db, 'SELECT count(*) FROM transfers'),
  escrows: await scalar(harness.db, 'SELECT count(*) FROM escrows'),
});

describe('when a process on the bus forges a principal for the payment service', () => {
  const forgeries = () => {
    const otherKey = createPrincipalSigner({
      issuer: 'gateway',
      keys: parseSigningKeys(`payment=${generateBusKey()}`),
    });
    const expired = createPrincipalSigner({
      issuer: 'gateway',
      keys: parseSigningKeys(harness.trust.signingKeys),
      now: () => Date.now() - 120_000,
    });
    return { otherKey, expired };
  };
  const attacks: [string, Endpoint, unknown, () => Principal][] = [
    ['withdraw the victim’s money', paymentEndpoints.withdraw, { amount: credits(10) }, () => victim],
    ['mint credits', paymentEndpoints.deposit, { amount: credits(1_000) }, () => userPrincipal()],
    [
      'hold the victim’s balance as a made-up system user',
      paymentEndpoints.holdEscrow,
      { task_id: randomUUID(), payer_did: '', amount: credits(5) },
      () => taskService(),
    ],
  ];

  it.each(attacks)(
    'then an attempt to %s is refused with every kind of forgery and nothing moves',
    async (_what, endpoint, template, principalOf) => {
      const body =
        endpoint === paymentEndpoints.holdEscrow
          ? { ...(template as object), payer_did: victim.did }
          : template;
      const before = await moneyState();
      const { otherKey, expired } = forgeries();
      const principal = principalOf();
      const binding = (requestId: string, subject = endpoint.subject) => ({
        subject,
        requestId,
        body: encodeJson(body),
      });
      const tokens: [string, string][] = [
        ['unsigned', JSON.stringify(principal)],
        ['bad_signature', otherKey.sign(principal, binding('r-key'))],
        ['expired', expired.sign(principal, binding('r-exp'))],
        [
          'wrong_subject',
          harness.trust.signer.sign(principal, binding('r-sub', paymentEndpoints.balance.subject)),
        ],
      ];
      for (const [reason, token] of tokens) {
        const requestId =
          { bad_signature: 'r-key', expired: 'r-exp', wrong_subject: 'r-sub' }[reason] ?? randomUUID();
        const counted = await metricValue(harness.registry, 'nats_principal_rejected_total', {
          subject: endpoint.subject,
          reason,
        });
        expect(await sendAs(endpoint, body, token, requestId), reason).toMatchObject({
          ok: false,
          error: { code: 'UNAUTHENTICATED' },
        });
        expect(
          await metricValue(harness.registry, 'nats_principal_rejected_total', {
            subject: endpoint.subject,
            reason,
          }),
        ).toBe(counted + 1);
      }
      expect(await moneyState()).toEqual(before);
    },
  );

  it('then the gateway path still works and the ledger reconciles', async () => {
    const balance = await harness.call(paymentEndpoints.balance, {}, victim);
    expect(balance.available).toBe(credits(10));
    await harness.expectReconciled();
  });
});
