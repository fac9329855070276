import { PrismaPg } from '@prisma/adapter-pg';
import { authEndpoints, type Principal } from '@zerostate/contracts';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { grantAdmin } from '../src/grant-admin.js';
import { createSigningKeyRing } from '../src/security/signing-key-ring.js';
import {
  goodPassword,
  type Harness,
  principalFromAccessToken,
  startHarness,
  uniqueEmail,
} from './harness.js';

const adminEmail = 'root@example.com';
let harness: Harness;
let admin: Principal;

beforeAll(async () => {
  // Re-reading the active key on every signature makes another replica's rotation visible at once.
  harness = await startHarness({ name: 'auth_signing', activeKeyRefreshMs: 0 });
  await harness.call(authEndpoints.register, { email: adminEmail, password: goodPassword });
  // The first admin comes from the operator command; a new login carries the granted role.
  await grantAdmin(harness.config.databaseUrl, adminEmail);
  const session = await harness.call(authEndpoints.login, { email: adminEmail, password: goodPassword });
  admin = principalFromAccessToken(session.access_token);
});

afterAll(async () => {
  await harness?.stop();
});

async function verifyAgainstJwks(token: string) {
  const jwks = (await harness.call(authEndpoints.jwks, {})) as JSONWebKeySet;
  return jwtVerify(token, createLocalJWKSet(jwks), {
    algorithms: ['EdDSA'],
    issuer: harness.config.JWT_ISSUER,
    audience: harness.config.JWT_AUDIENCE,
    typ: 'JWT',
  });
}

function databaseUrl(): string {
  return harness.config.databaseUrl;
}

async function newSession() {
  return harness.call(authEndpoints.register, { email: uniqueEmail('jwt'), password: goodPassword });
}

describe('access tokens and the JWKS', () => {
  it('when a token is issued, then it verifies against the JWKS and carries every claim', async () => {
    const session = await newSession();
    const { payload, protectedHeader } = await verifyAgainstJwks(session.access_token);

    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', typ: 'JWT' });
    expect(protectedHeader.kid).toEqual(expect.any(String));
    expect(payload).toMatchObject({
      sub: session.user.id,
      did: session.user.did,
      email: session.user.email,
      roles: ['user'],
      is_system: false,
      iss: 'zerostate-auth',
      aud: 'zerostate-api',
      typ: 'access',
    });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.exp! - payload.iat!).toBe(900);
  });

  it('when the JWKS is read, then it holds only public Ed25519 keys', async () => {
    const jwks = await harness.call(authEndpoints.jwks, {});
    expect(jwks.keys.length).toBeGreaterThanOrEqual(1);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
      expect(key).not.toHaveProperty('d');
    }
    const stored = await harness.db.query('SELECT private_key_encrypted FROM signing_keys');
    for (const row of stored.rows) expect(row.private_key_encrypted).toMatch(/^v1\./);
  });
});

describe('signing key rotation', () => {
  it('when an admin rotates, then old tokens still verify, new tokens carry the new kid, and the old key is retired', async () => {
    const before = await newSession();
    const oldKid = decodeProtectedHeader(before.access_token).kid;

    const rotated = await harness.call(authEndpoints.rotateSigningKey, {}, admin);

    expect(rotated.retired_kids).toEqual([oldKid]);
    expect(rotated.kid).not.toBe(oldKid);
    await expect(verifyAgainstJwks(before.access_token)).resolves.toBeTruthy();
    const after = await newSession();
    expect(decodeProtectedHeader(after.access_token).kid).toBe(rotated.kid);
    await expect(verifyAgainstJwks(after.access_token)).resolves.toBeTruthy();
    const retired = await harness.db.query(
      'SELECT extract(epoch FROM verify_until - retired_at)::int AS seconds FROM signing_keys WHERE kid = $1',
      [oldKid],
    );
    expect(retired.rows[0].seconds).toBe(900 + 60);
    expect(
      await harness.db.query(
        "SELECT 1 FROM audit_log WHERE action = 'signing_key_rotated' AND target_id = $1",
        [rotated.kid],
      ),
    ).toMatchObject({ rowCount: 1 });
  });

  it('when a retired key is past verify_until, then it leaves the JWKS and its tokens stop verifying', async () => {
    const before = await newSession();
    const oldKid = decodeProtectedHeader(before.access_token).kid;
    await harness.call(authEndpoints.rotateSigningKey, {}, admin);
    await harness.db.query(
      "UPDATE signing_keys SET retired_at = now() - interval '1 hour', verify_until = now() - interval '1 second' WHERE kid = $1",
      [oldKid],
    );

    const jwks = await harness.call(authEndpoints.jwks, {});
    expect(jwks.keys.map((key) => key.kid)).not.toContain(oldKid);
    await expect(verifyAgainstJwks(before.access_token)).rejects.toThrow();
  });

  it('when another replica rotates, then this replica signs with the new key once it re-reads the active key', async () => {
    // A second replica: its own Prisma client and key ring on the same database.
    const otherPrisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl() }) });
    try {
      const otherReplica = createSigningKeyRing({
        prisma: otherPrisma,
        encryptionKey: harness.config.AUTH_KEY_ENCRYPTION_KEY,
        accessTokenTtlSeconds: harness.config.ACCESS_TOKEN_TTL_SECONDS,
      });
      const before = await newSession();
      const rotated = await otherReplica.rotate(admin.user_id, {
        requestId: 'other-replica',
        ip: null,
        userAgent: null,
      });

      const after = await newSession();
      expect(decodeProtectedHeader(after.access_token).kid).toBe(rotated.kid);
      expect(rotated.retiredKids).toEqual([decodeProtectedHeader(before.access_token).kid]);
      await expect(verifyAgainstJwks(before.access_token)).resolves.toBeTruthy();
    } finally {
      await otherPrisma.$disconnect();
    }
  });

  it('when a non-admin rotates, then FORBIDDEN; without a principal UNAUTHENTICATED', async () => {
    const user = principalFromAccessToken((await newSession()).access_token);
    await expect(harness.call(authEndpoints.rotateSigningKey, {}, user)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(harness.call(authEndpoints.rotateSigningKey, {})).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });
});

describe('first admin and roles', () => {
  it('when an operator granted admin, then its session carries the role and later accounts are plain users', async () => {
    expect(admin.roles).toEqual(['user', 'admin']);
    const later = await newSession();
    expect(later.user.roles).toEqual(['user']);
  });

  it('when an admin sets roles, then they are stored and audited; a non-admin gets FORBIDDEN', async () => {
    const target = await newSession();
    const updated = await harness.call(
      authEndpoints.setRoles,
      { user_id: target.user.id, roles: ['admin', 'user', 'user'] },
      admin,
    );
    expect(updated.roles).toEqual(['user', 'admin']);
    const refreshed = await harness.call(authEndpoints.refresh, { refresh_token: target.refresh_token });
    expect(principalFromAccessToken(refreshed.access_token).roles).toEqual(['user', 'admin']);
    // Back to a plain user, so the last-admin test below still finds one admin.
    await harness.call(authEndpoints.setRoles, { user_id: target.user.id, roles: ['user'] }, admin);

    const nonAdmin = principalFromAccessToken(target.access_token);
    await expect(
      harness.call(authEndpoints.setRoles, { user_id: target.user.id, roles: ['admin'] }, nonAdmin),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(
      harness.call(
        authEndpoints.setRoles,
        { user_id: '0190b1c2-0000-7000-8000-000000000000', roles: ['user'] },
        admin,
      ),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(
      await harness.db.query("SELECT 1 FROM audit_log WHERE action = 'roles_changed' AND target_id = $1", [
        target.user.id,
      ]),
    ).toMatchObject({ rowCount: 2 });
  });

  it('when an admin acts through an API key, then API_KEY_NOT_ALLOWED and nothing changes', async () => {
    const adminKey: Principal = { ...admin, kind: 'api_key', scopes: ['*:read', 'agents:write'] };
    const target = await newSession();
    const activeBefore = await harness.db.query('SELECT kid FROM signing_keys WHERE retired_at IS NULL');

    await expect(
      harness.call(authEndpoints.setRoles, { user_id: target.user.id, roles: ['user', 'admin'] }, adminKey),
    ).rejects.toMatchObject({ code: 'API_KEY_NOT_ALLOWED' });
    await expect(harness.call(authEndpoints.rotateSigningKey, {}, adminKey)).rejects.toMatchObject({
      code: 'API_KEY_NOT_ALLOWED',
    });

    const stored = await harness.db.query('SELECT roles FROM users WHERE id = $1', [target.user.id]);
    expect(stored.rows[0].roles).toEqual(['user']);
    const activeAfter = await harness.db.query('SELECT kid FROM signing_keys WHERE retired_at IS NULL');
    expect(activeAfter.rows).toEqual(activeBefore.rows);
  });

  it('when the last admin would lose the admin role, then CONFLICT and the role stays', async () => {
    await expect(
      harness.call(authEndpoints.setRoles, { user_id: admin.user_id, roles: ['user'] }, admin),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    const me = await harness.call(authEndpoints.me, {}, admin);
    expect(me.roles).toEqual(['user', 'admin']);
  });
});
