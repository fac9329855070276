import { authEndpoints, type Principal } from '@zerostate/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantAdmin } from '../src/grant-admin.js';
import {
  goodPassword,
  type Harness,
  principalFromAccessToken,
  startHarness,
  uniqueEmail,
} from './harness.js';

/**
 * Admin user management and the revocation feed against the real auth service. Erasure and export
 * also need the payment service; the gateway's account-lifecycle test runs them on the whole stack,
 * and here only what happens when payment does not answer.
 */
let harness: Harness;
let admin: Principal;

beforeAll(async () => {
  harness = await startHarness({ name: 'auth_lifecycle' });
  const adminEmail = uniqueEmail('root');
  await harness.call(authEndpoints.register, { email: adminEmail, password: goodPassword });
  await grantAdmin(harness.config.databaseUrl, adminEmail);
  admin = principalFromAccessToken(
    (await harness.call(authEndpoints.login, { email: adminEmail, password: goodPassword })).access_token,
  );
});
afterAll(async () => harness?.stop());

async function newUser() {
  const email = uniqueEmail('member');
  const session = await harness.call(authEndpoints.register, { email, password: goodPassword });
  const principal = principalFromAccessToken(session.access_token);
  const key = await harness.call(
    authEndpoints.createApiKey,
    { name: 'k', scopes: ['users:read'] },
    principal,
  );
  return { email, session, principal, key };
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error: { code?: string }) => error.code ?? 'no code',
  );

describe('deactivation and reactivation', () => {
  it('when an admin deactivates a user, then sign-in, refresh and API keys fail, and a revocation is published', async () => {
    const user = await newUser();
    const result = await harness.call(
      authEndpoints.deactivateUser,
      { user_id: user.session.user.id, reason: 'fraud' },
      admin,
    );
    expect(result).toMatchObject({ id: user.session.user.id, is_active: false });
    expect(Date.parse(result.revocation.expires_at) - Date.parse(result.revocation.revoked_at)).toBe(
      harness.config.ACCESS_TOKEN_TTL_SECONDS * 1000,
    );
    expect(
      await codeOf(harness.call(authEndpoints.login, { email: user.email, password: goodPassword })),
    ).toBe('INVALID_CREDENTIALS');
    expect(
      await codeOf(harness.call(authEndpoints.refresh, { refresh_token: user.session.refresh_token })),
    ).toBe('REFRESH_TOKEN_REUSED');
    expect(await codeOf(harness.call(authEndpoints.verifyApiKey, { key: user.key.key }))).toBe(
      'INVALID_API_KEY',
    );

    const events = await harness.db.query(
      "SELECT payload FROM outbox WHERE subject = 'evt.auth.user.sessions-revoked' AND payload->>'user_id' = $1",
      [user.session.user.id],
    );
    expect(events.rows).toHaveLength(1);
    const feed = await harness.call(authEndpoints.sessionRevocations, {});
    expect(feed.items).toContainEqual(result.revocation);
    const later = await harness.call(authEndpoints.sessionRevocations, {
      since: result.revocation.revoked_at,
    });
    expect(later.items.map((item) => item.user_id)).not.toContain(user.session.user.id);

    const back = await harness.call(authEndpoints.reactivateUser, { user_id: user.session.user.id }, admin);
    expect(back).toMatchObject({ is_active: true, deactivated_at: null });
    expect(
      await codeOf(harness.call(authEndpoints.login, { email: user.email, password: goodPassword })),
    ).toBe('ok');
    expect(await codeOf(harness.call(authEndpoints.verifyApiKey, { key: user.key.key }))).toBe('ok');
    expect(
      await codeOf(harness.call(authEndpoints.refresh, { refresh_token: user.session.refresh_token })),
    ).toBe('REFRESH_TOKEN_REUSED');
    const audited = await harness.db.query(
      "SELECT action FROM audit_log WHERE target_id = $1 AND action IN ('user_deactivated', 'user_reactivated') ORDER BY id",
      [user.session.user.id],
    );
    expect(audited.rows.map((row) => row.action)).toEqual(['user_deactivated', 'user_reactivated']);
  });

  it('when the admin would deactivate the last active admin, then CONFLICT and nothing changes', async () => {
    expect(await codeOf(harness.call(authEndpoints.deactivateUser, { user_id: admin.user_id }, admin))).toBe(
      'CONFLICT',
    );
    const row = await harness.db.query('SELECT is_active FROM users WHERE id = $1', [admin.user_id]);
    expect(row.rows[0].is_active).toBe(true);
  });

  it('when a non-admin or an API key asks, then FORBIDDEN or API_KEY_NOT_ALLOWED', async () => {
    const user = await newUser();
    const target = await newUser();
    const adminKey: Principal = { ...admin, kind: 'api_key', scopes: ['*:read'], api_key_id: user.key.id };
    for (const [principal, code] of [
      [user.principal, 'FORBIDDEN'],
      [adminKey, 'API_KEY_NOT_ALLOWED'],
    ] as const) {
      expect(
        await codeOf(
          harness.call(authEndpoints.deactivateUser, { user_id: target.session.user.id }, principal),
        ),
      ).toBe(code);
      expect(
        await codeOf(
          harness.call(authEndpoints.revokeUserSessions, { user_id: target.session.user.id }, principal),
        ),
      ).toBe(code);
      expect(
        await codeOf(
          harness.call(authEndpoints.revokeUserApiKeys, { user_id: target.session.user.id }, principal),
        ),
      ).toBe(code);
      expect(await codeOf(harness.call(authEndpoints.listUsers, { limit: 10 }, principal))).toBe(code);
    }
    expect(await codeOf(harness.call(authEndpoints.verifyApiKey, { key: target.key.key }))).toBe('ok');
  });
});

describe('revoking sessions and keys', () => {
  it("when an admin revokes a user's keys, then each key fails and a revoked event per key is published", async () => {
    const user = await newUser();
    const second = await harness.call(
      authEndpoints.createApiKey,
      { name: 'k2', scopes: ['users:read'] },
      user.principal,
    );
    const result = await harness.call(
      authEndpoints.revokeUserApiKeys,
      { user_id: user.session.user.id },
      admin,
    );
    expect(result.api_keys_revoked).toBe(2);
    for (const key of [user.key.key, second.key]) {
      expect(await codeOf(harness.call(authEndpoints.verifyApiKey, { key }))).toBe('INVALID_API_KEY');
    }
    const events = await harness.db.query(
      "SELECT 1 FROM outbox WHERE subject = 'evt.auth.api-key.revoked' AND payload->>'user_id' = $1",
      [user.session.user.id],
    );
    expect(events.rows).toHaveLength(2);
  });

  it('when an admin revokes sessions, then the refresh token fails and the user may sign in again', async () => {
    const user = await newUser();
    const result = await harness.call(
      authEndpoints.revokeUserSessions,
      { user_id: user.session.user.id },
      admin,
    );
    expect(result.refresh_tokens_revoked).toBe(1);
    expect(
      await codeOf(harness.call(authEndpoints.refresh, { refresh_token: user.session.refresh_token })),
    ).toBe('REFRESH_TOKEN_REUSED');
    expect(
      await codeOf(harness.call(authEndpoints.login, { email: user.email, password: goodPassword })),
    ).toBe('ok');
  });
});

describe('erasure when the payment service does not answer', () => {
  it('then SERVICE_UNAVAILABLE and the user is untouched', async () => {
    const user = await newUser();
    expect(await codeOf(harness.call(authEndpoints.erase, { password: goodPassword }, user.principal))).toBe(
      'SERVICE_UNAVAILABLE',
    );
    expect(
      await codeOf(harness.call(authEndpoints.login, { email: user.email, password: goodPassword })),
    ).toBe('ok');
    expect(
      await codeOf(harness.call(authEndpoints.erase, { password: 'wrong password!!' }, user.principal)),
    ).toBe('INVALID_CREDENTIALS');
  });
});
