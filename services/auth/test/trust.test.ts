import { randomUUID } from 'node:crypto';
import { createPrincipalSigner, decodeJson, encodeCallHeaders, encodeJson } from '@zerostate/bus';
import { generateBusKey, parseSigningKeys } from '@zerostate/config';
import { authEndpoints, type Endpoint, type Principal } from '@zerostate/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goodPassword, type Harness, startHarness, uniqueEmail } from './harness.js';

/**
 * A process on the bus claims to be an admin: it tries to rotate the signing keys and to make
 * its own account an admin. Both are refused and change nothing.
 */
let harness: Harness;
let attacker: { id: string; did: string };

beforeAll(async () => {
  harness = await startHarness({ name: 'auth_trust' });
  const session = await harness.call(authEndpoints.register, {
    email: uniqueEmail('attacker'),
    password: goodPassword,
  });
  attacker = { id: session.user.id, did: session.user.did };
});
afterAll(async () => harness?.stop());

async function sendAs(endpoint: Endpoint, body: unknown, token: string, requestId: string) {
  const reply = await harness.nc.request(endpoint.subject, encodeJson(body), {
    headers: encodeCallHeaders({ requestId }, token),
    timeout: 5_000,
  });
  return decodeJson(reply.data) as { ok: boolean; error?: { code: string } };
}

const state = async () => ({
  keys: (await harness.db.query('SELECT kid, retired_at FROM signing_keys ORDER BY kid')).rows,
  roles: (await harness.db.query('SELECT roles FROM users WHERE id = $1', [attacker.id])).rows,
});

describe('when a process on the bus forges an admin principal for the auth service', () => {
  it('then key rotation and role grants are refused with an unsigned or a foreign-key principal, and nothing changes', async () => {
    const admin: Principal = {
      kind: 'user',
      user_id: attacker.id,
      did: attacker.did,
      roles: ['user', 'admin'],
      is_system: true,
    };
    const forger = createPrincipalSigner({
      issuer: 'gateway',
      keys: parseSigningKeys(`auth=${generateBusKey()}`),
    });
    const before = await state();
    const attempts: [Endpoint, unknown][] = [
      [authEndpoints.rotateSigningKey, {}],
      [authEndpoints.setRoles, { user_id: attacker.id, roles: ['user', 'admin'] }],
    ];
    for (const [endpoint, body] of attempts) {
      const requestId = randomUUID();
      const forged = forger.sign(admin, { subject: endpoint.subject, requestId, body: encodeJson(body) });
      for (const token of [JSON.stringify(admin), forged]) {
        expect(await sendAs(endpoint, body, token, requestId), endpoint.subject).toMatchObject({
          ok: false,
          error: { code: 'UNAUTHENTICATED' },
        });
      }
    }
    expect(await state()).toEqual(before);
  });
});
