import { startNatsServer, waitUntil } from '@zerostate/testkit';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { call } from './support/http.js';
import { startGateway } from './support/in-process.js';
import { signWithStrangerKey, startTestSigner } from './support/test-signer.js';

type Nats = Awaited<ReturnType<typeof startNatsServer>>;
type Signer = Awaited<ReturnType<typeof startTestSigner>>;
type Gateway = Awaited<ReturnType<typeof startGateway>>;

let nats: Nats;
let signer: Signer;
let gateway: Gateway;

beforeEach(async () => {
  nats = await startNatsServer();
  signer = await startTestSigner(nats.url);
  gateway = await startGateway({ NATS_URL: nats.url, RATE_LIMIT_CAPACITY: '1000', JWKS_MAX_AGE_MS: '200' });
});
afterEach(async () => {
  await gateway?.stop();
  await signer?.stop();
  await nats?.stop();
});

const me = (token: string) => call(gateway.baseUrl, 'GET', '/api/v1/users/me', { token });

describe('when the auth service retires a signing key', () => {
  test('then the gateway stops trusting it once its cached key set ages out, and trusts the new key at once', async () => {
    const oldToken = await signer.sign();
    expect((await me(oldToken)).status).toBe(200);
    await signer.rotate();
    // No token with the new kid is shown first: only the key set's age can make the gateway look again.
    await waitUntil('the retired key to be refused', async () => (await me(oldToken)).status === 401, 5_000);
    expect((await me(await signer.sign())).status).toBe(200);
  });
});

describe('when the JWKS cannot be fetched', () => {
  test('then cached keys still verify and a token with an unknown kid is 401, not 503', async () => {
    const token = await signer.sign();
    expect((await me(token)).status).toBe(200);
    signer.setJwksAvailable(false);
    const forged = await signWithStrangerKey('never-seen');
    const refused = await me(forged);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: { code: 'INVALID_TOKEN' } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await me(token)).status).toBe(200);
  });
});
