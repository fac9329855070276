import { randomUUID } from 'node:crypto';
import { Registry } from '@zerostate/observability';
import { exportJWK, generateKeyPair, type JSONWebKeySet, SignJWT } from 'jose';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { createJwtVerifier } from './jwt.js';

const issuer = 'zerostate-auth';
const audience = 'zerostate-api';

async function newKey() {
  const pair = await generateKeyPair('EdDSA', { extractable: true });
  const kid = `k-${randomUUID()}`;
  return { ...pair, kid, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'EdDSA', use: 'sig' } };
}
type Key = Awaited<ReturnType<typeof newKey>>;

function sign(key: Key, claims: { sub?: string; iat?: number; exp?: number } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ did: 'did:zerostate:user:x', roles: ['user'], is_system: false, typ: 'access' })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid })
    .setSubject(claims.sub ?? randomUUID())
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt(claims.iat ?? now)
    .setNotBefore(claims.iat ?? now)
    .setExpirationTime(claims.exp ?? now + 900)
    .setJti(randomUUID())
    .sign(key.privateKey);
}

/** A verifier over a key set the test swaps, and a revocation list it writes. */
function verifierOver(initial: Key[], options: { cacheSize?: number; maxAgeMs?: number } = {}) {
  let jwks: JSONWebKeySet = { keys: initial.map((key) => key.jwk) };
  let fetches = 0;
  const revoked = new Map<string, number>();
  const registry = new Registry();
  const verifier = createJwtVerifier({
    fetchJwks: async () => {
      fetches += 1;
      return jwks;
    },
    issuer,
    audience,
    registry,
    refreshCooldownMs: 0,
    maxAgeMs: options.maxAgeMs ?? 60_000,
    ...(options.cacheSize === undefined ? {} : { cacheSize: options.cacheSize }),
    revocations: {
      ready: async () => {},
      isReady: () => true,
      isRevoked: (userId, issuedAtMs) => issuedAtMs <= (revoked.get(userId) ?? Number.NEGATIVE_INFINITY),
    },
  });
  const metric = async (name: string) => {
    const found = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
    return found?.values.reduce((sum, value) => sum + value.value, 0) ?? 0;
  };
  return {
    verifier,
    setKeys: (keys: Key[]) => {
      jwks = { keys: keys.map((key) => key.jwk) };
    },
    revoke: (userId: string, atMs = Date.now()) => revoked.set(userId, atMs),
    fetches: () => fetches,
    hits: () => metric('auth_jwt_cache_hits_total'),
  };
}

const refusal = { code: 'INVALID_TOKEN' };

afterEach(() => {
  vi.useRealTimers();
});

describe('when the same access token comes again', () => {
  test('then it is accepted from the cache with the same principal, and a tampered copy is not', async () => {
    const key = await newKey();
    const { verifier, hits } = verifierOver([key]);
    const token = await sign(key);
    const first = await verifier.verify(token);
    expect(await hits()).toBe(0);
    expect(await verifier.verify(token)).toEqual(first);
    expect(await hits()).toBe(1);
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url')}.${signature}`;
    await expect(verifier.verify(tampered)).rejects.toMatchObject(refusal);
    expect(await hits()).toBe(1);
  });

  test("then it is refused once the user's sessions are revoked, and a token issued later is accepted", async () => {
    const key = await newKey();
    const { verifier, revoke } = verifierOver([key]);
    const userId = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const before = await sign(key, { sub: userId, iat: now - 5 });
    await verifier.verify(before);
    await verifier.verify(before);
    revoke(userId, Date.now() - 1_000);
    await expect(verifier.verify(before)).rejects.toMatchObject(refusal);
    const later = await sign(key, { sub: userId, iat: now + 1 });
    await expect(verifier.verify(later)).resolves.toMatchObject({ user_id: userId });
  });

  test('then it is refused once its key leaves the key set, and a token of the new key is accepted', async () => {
    const old = await newKey();
    const next = await newKey();
    const keys = verifierOver([old], { maxAgeMs: 0 });
    const token = await sign(old);
    await keys.verifier.verify(token);
    keys.setKeys([next]);
    // The first call after the key set aged out starts its refresh; from then on the old key is gone.
    await keys.verifier.verify(token).catch(() => undefined);
    await expect(keys.verifier.verify(token)).rejects.toMatchObject(refusal);
    await expect(keys.verifier.verify(await sign(next))).resolves.toMatchObject({ kind: 'user' });
  });

  test('then an unchanged key set fetched again keeps the cached tokens', async () => {
    const key = await newKey();
    const keys = verifierOver([key], { maxAgeMs: 0 });
    const token = await sign(key);
    await keys.verifier.verify(token);
    for (let round = 0; round < 3; round += 1) await keys.verifier.verify(token);
    expect(keys.fetches()).toBeGreaterThan(1);
    expect(await keys.hits()).toBe(3);
  });

  test('then it is refused after its expiry although it was cached', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const key = await newKey();
    const { verifier } = verifierOver([key]);
    const now = Math.floor(Date.now() / 1000);
    const token = await sign(key, { iat: now - 10, exp: now + 60 });
    await verifier.verify(token);
    await verifier.verify(token);
    vi.setSystemTime((now + 60 + 6) * 1000);
    await expect(verifier.verify(token)).rejects.toMatchObject(refusal);
  });

  test('then the cache holds at most its size, forgetting the oldest token first', async () => {
    const key = await newKey();
    const { verifier, hits } = verifierOver([key], { cacheSize: 2 });
    const [a, b, c] = await Promise.all([sign(key), sign(key), sign(key)]);
    for (const token of [a!, b!, c!]) await verifier.verify(token);
    await verifier.verify(c!);
    await verifier.verify(b!);
    expect(await hits()).toBe(2);
    await verifier.verify(a!);
    expect(await hits()).toBe(2);
  });
});
