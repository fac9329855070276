import { randomUUID } from 'node:crypto';
import { authEndpoints } from '@zerostate/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  goodPassword,
  type Harness,
  metricValue,
  principalFromAccessToken,
  startHarness,
  uniqueEmail,
} from './harness.js';

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ name: 'auth_sessions' });
});

afterAll(async () => {
  await harness?.stop();
});

async function countRows(table: string, where = 'true', parameters: unknown[] = []): Promise<number> {
  const result = await harness.db.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, parameters);
  return result.rows[0].n;
}

async function register(email = uniqueEmail()) {
  return harness.call(authEndpoints.register, { email, password: goodPassword });
}

describe('register', () => {
  it('when a new email registers, then a session, the user row, its refresh token, the audit row and the outbox event all exist', async () => {
    const email = uniqueEmail('New');
    const session = await harness.call(authEndpoints.register, {
      email,
      password: goodPassword,
      name: 'Ada',
    });

    expect(session.token_type).toBe('Bearer');
    expect(session.expires_in).toBe(900);
    expect(session.refresh_token).toMatch(/^zsr_/);
    expect(session.user).toMatchObject({
      email: email.toLowerCase(),
      name: 'Ada',
      roles: ['user'],
      is_active: true,
    });
    expect(session.user.did).toBe(`did:zerostate:user:${session.user.id}`);

    const user = await harness.db.query('SELECT email, password_hash FROM users WHERE id = $1', [
      session.user.id,
    ]);
    expect(user.rows[0].email).toBe(email.toLowerCase());
    expect(user.rows[0].password_hash).toMatch(/^\$2[aby]\$04\$/);
    expect(await countRows('refresh_tokens', 'user_id = $1 AND revoked_at IS NULL', [session.user.id])).toBe(
      1,
    );
    const audit = await harness.db.query(
      "SELECT actor_user_id, ip, user_agent, request_id FROM audit_log WHERE action = 'user_registered' AND target_id = $1",
      [session.user.id],
    );
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0]).toMatchObject({
      actor_user_id: session.user.id,
      ip: '203.0.113.7',
      user_agent: 'vitest',
    });
    expect(audit.rows[0].request_id).toBeTruthy();
    const outbox = await harness.db.query(
      "SELECT payload FROM outbox WHERE subject = 'evt.auth.user.registered'",
    );
    expect(outbox.rows.map((row) => row.payload)).toContainEqual({
      user_id: session.user.id,
      did: session.user.did,
      roles: ['user'],
    });
  });

  it('when the same email registers again in another case, then EMAIL_TAKEN and no row is added', async () => {
    const email = uniqueEmail('dup');
    await register(email);
    const before = await Promise.all(
      ['users', 'refresh_tokens', 'audit_log', 'outbox'].map((table) => countRows(table)),
    );

    await expect(register(email.toUpperCase())).rejects.toMatchObject({ code: 'EMAIL_TAKEN' });

    const after = await Promise.all(
      ['users', 'refresh_tokens', 'audit_log', 'outbox'].map((table) => countRows(table)),
    );
    expect(after).toEqual(before);
  });

  it('when the password is shorter than 12 characters, then WEAK_PASSWORD and no user is created', async () => {
    const email = uniqueEmail('weak');
    await expect(harness.call(authEndpoints.register, { email, password: 'short-pw' })).rejects.toMatchObject(
      {
        code: 'WEAK_PASSWORD',
      },
    );
    expect(await countRows('users', 'email = $1', [email])).toBe(0);
  });
});

describe('login', () => {
  it('when the password is right, then a session is issued, last_login_at is set and the login is counted', async () => {
    const email = uniqueEmail('login');
    await register(email);
    const successesBefore = await metricValue(harness.registry, 'auth_logins_total', { result: 'success' });

    const session = await harness.call(authEndpoints.login, {
      email: email.toUpperCase(),
      password: goodPassword,
    });

    expect(session.user.email).toBe(email);
    expect(session.user.last_login_at).not.toBeNull();
    expect(await metricValue(harness.registry, 'auth_logins_total', { result: 'success' })).toBe(
      successesBefore + 1,
    );
    expect(
      await countRows('audit_log', "action = 'login_succeeded' AND actor_user_id = $1", [session.user.id]),
    ).toBe(1);
  });

  it('when the password is wrong or the email unknown, then INVALID_CREDENTIALS both times and both are audited', async () => {
    const email = uniqueEmail('wrong');
    const registered = await register(email);
    const failedBefore = await countRows('audit_log', "action = 'login_failed'");

    await expect(
      harness.call(authEndpoints.login, { email, password: 'not the password!' }),
    ).rejects.toMatchObject({
      code: 'INVALID_CREDENTIALS',
    });
    await expect(
      harness.call(authEndpoints.login, { email: uniqueEmail('nobody'), password: goodPassword }),
    ).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });

    expect(await countRows('audit_log', "action = 'login_failed'")).toBe(failedBefore + 2);
    expect(
      await countRows('audit_log', "action = 'login_failed' AND actor_user_id = $1", [registered.user.id]),
    ).toBe(1);
  });

  it('when the user is inactive, then the right password still gives INVALID_CREDENTIALS', async () => {
    const email = uniqueEmail('inactive');
    const session = await register(email);
    await harness.db.query('UPDATE users SET is_active = false WHERE id = $1', [session.user.id]);
    await expect(harness.call(authEndpoints.login, { email, password: goodPassword })).rejects.toMatchObject({
      code: 'INVALID_CREDENTIALS',
    });
  });
});

describe('refresh', () => {
  it('when a refresh token is used, then a new pair is issued and the old token is retired in the same family', async () => {
    const first = await register();
    const second = await harness.call(authEndpoints.refresh, { refresh_token: first.refresh_token });

    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    const rows = await harness.db.query(
      'SELECT id, family_id, rotated_from, revoked_reason FROM refresh_tokens WHERE user_id = $1 ORDER BY created_at',
      [first.user.id],
    );
    expect(rows.rows).toHaveLength(2);
    expect(rows.rows[0].revoked_reason).toBe('rotated');
    expect(rows.rows[1].family_id).toBe(rows.rows[0].family_id);
    expect(rows.rows[1].rotated_from).toBe(rows.rows[0].id);
  });

  it('when a rotated token is replayed, then REFRESH_TOKEN_REUSED and the newest token of the family stops working', async () => {
    const first = await register();
    const second = await harness.call(authEndpoints.refresh, { refresh_token: first.refresh_token });

    await expect(
      harness.call(authEndpoints.refresh, { refresh_token: first.refresh_token }),
    ).rejects.toMatchObject({
      code: 'REFRESH_TOKEN_REUSED',
    });
    await expect(
      harness.call(authEndpoints.refresh, { refresh_token: second.refresh_token }),
    ).rejects.toMatchObject({
      code: 'REFRESH_TOKEN_REUSED',
    });
    expect(await countRows('refresh_tokens', 'user_id = $1 AND revoked_at IS NULL', [first.user.id])).toBe(0);
    expect(
      await countRows('audit_log', "action = 'refresh_reuse_detected' AND actor_user_id = $1", [
        first.user.id,
      ]),
    ).toBe(2);
  });

  it('when one token is refreshed concurrently, then exactly one request succeeds', async () => {
    const session = await register();
    const attempts = await Promise.allSettled(
      Array.from({ length: 4 }, () =>
        harness.call(authEndpoints.refresh, { refresh_token: session.refresh_token }),
      ),
    );
    expect(attempts.filter((attempt) => attempt.status === 'fulfilled')).toHaveLength(1);
    for (const attempt of attempts.filter((each) => each.status === 'rejected')) {
      expect((attempt as PromiseRejectedResult).reason).toMatchObject({ code: 'REFRESH_TOKEN_REUSED' });
    }
  });

  it('when the current token rotates while an older one is replayed, then no token of the family stays usable', async () => {
    // The race needs the replay's family revocation to run while the rotation is still in flight,
    // so it is tried on many fresh families; one surviving token in any round is a failure.
    const rounds = 40;
    const survivingRounds: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const first = await register();
      const second = await harness.call(authEndpoints.refresh, { refresh_token: first.refresh_token });
      const [rotation, replay] = await Promise.allSettled([
        harness.call(authEndpoints.refresh, { refresh_token: second.refresh_token }),
        harness.call(authEndpoints.refresh, { refresh_token: first.refresh_token }),
      ]);
      expect(replay).toMatchObject({ status: 'rejected', reason: { code: 'REFRESH_TOKEN_REUSED' } });
      const live = await countRows('refresh_tokens', 'user_id = $1 AND revoked_at IS NULL', [first.user.id]);
      const successorWorks =
        rotation.status === 'fulfilled' &&
        (await harness.call(authEndpoints.refresh, { refresh_token: rotation.value.refresh_token }).then(
          () => true,
          (error: unknown) => (error as { code?: string }).code !== 'REFRESH_TOKEN_REUSED',
        ));
      if (live > 0 || successorWorks) survivingRounds.push(round);
    }
    expect(survivingRounds).toEqual([]);
  });

  it('when a token is unknown, malformed or expired, then INVALID_REFRESH_TOKEN', async () => {
    const session = await register();
    await harness.db.query(
      "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1",
      [session.user.id],
    );
    for (const token of [session.refresh_token, `zsr_${'A'.repeat(43)}`, 'not-a-token']) {
      await expect(harness.call(authEndpoints.refresh, { refresh_token: token })).rejects.toMatchObject({
        code: 'INVALID_REFRESH_TOKEN',
      });
    }
  });
});

describe('logout', () => {
  it('when a session logs out, then its family is revoked, logout is idempotent and unknown tokens are fine', async () => {
    const first = await register();
    const second = await harness.call(authEndpoints.refresh, { refresh_token: first.refresh_token });

    await expect(
      harness.call(authEndpoints.logout, { refresh_token: second.refresh_token }),
    ).resolves.toEqual({});
    await expect(
      harness.call(authEndpoints.logout, { refresh_token: second.refresh_token }),
    ).resolves.toEqual({});
    await expect(
      harness.call(authEndpoints.logout, { refresh_token: `zsr_${'B'.repeat(43)}` }),
    ).resolves.toEqual({});

    expect(await countRows('refresh_tokens', 'user_id = $1 AND revoked_at IS NULL', [first.user.id])).toBe(0);
    expect(await countRows('audit_log', "action = 'logout' AND actor_user_id = $1", [first.user.id])).toBe(1);
    await expect(
      harness.call(authEndpoints.refresh, { refresh_token: second.refresh_token }),
    ).rejects.toMatchObject({
      code: 'REFRESH_TOKEN_REUSED',
    });
  });
});

describe('me and change password', () => {
  it('when a signed-in user asks for me, then its profile comes back; without a principal UNAUTHENTICATED', async () => {
    const session = await register();
    const principal = principalFromAccessToken(session.access_token);
    await expect(harness.call(authEndpoints.me, {}, principal)).resolves.toEqual(session.user);
    await expect(harness.call(authEndpoints.me, {})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('when many users ask for me at once, then each gets its own profile (reads are batched), and an unknown user NOT_FOUND', async () => {
    const sessions = await Promise.all([register(), register(), register()]);
    const principals = sessions.map((session) => principalFromAccessToken(session.access_token));
    const unknown = { ...principals[0]!, user_id: randomUUID() };
    const answers = await Promise.allSettled(
      [...principals, principals[1]!, unknown].map((principal) =>
        harness.call(authEndpoints.me, {}, principal),
      ),
    );
    expect(
      answers.slice(0, 4).map((answer) => (answer.status === 'fulfilled' ? answer.value : answer.reason)),
    ).toEqual([...sessions.map((session) => session.user), sessions[1]!.user]);
    expect(answers[4]).toMatchObject({ status: 'rejected', reason: { code: 'NOT_FOUND' } });
  });

  it('when the password is changed, then every session of the user is revoked and only the new password works', async () => {
    const email = uniqueEmail('change');
    const first = await register(email);
    const other = await harness.call(authEndpoints.login, { email, password: goodPassword });
    const principal = principalFromAccessToken(first.access_token);
    const newPassword = 'a much better passphrase';

    await expect(
      harness.call(
        authEndpoints.changePassword,
        { current_password: 'wrong password!!', new_password: newPassword },
        principal,
      ),
    ).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    await expect(
      harness.call(
        authEndpoints.changePassword,
        { current_password: goodPassword, new_password: 'short' },
        principal,
      ),
    ).rejects.toMatchObject({ code: 'WEAK_PASSWORD' });
    await harness.call(
      authEndpoints.changePassword,
      { current_password: goodPassword, new_password: newPassword },
      principal,
    );

    for (const token of [first.refresh_token, other.refresh_token]) {
      await expect(harness.call(authEndpoints.refresh, { refresh_token: token })).rejects.toMatchObject({
        code: 'REFRESH_TOKEN_REUSED',
      });
    }
    await expect(harness.call(authEndpoints.login, { email, password: goodPassword })).rejects.toMatchObject({
      code: 'INVALID_CREDENTIALS',
    });
    await expect(harness.call(authEndpoints.login, { email, password: newPassword })).resolves.toMatchObject({
      user: { id: first.user.id },
    });
    expect(
      await countRows('audit_log', "action = 'password_changed' AND actor_user_id = $1", [first.user.id]),
    ).toBe(1);
  });

  it('when the password changes while a session refreshes, then no refresh token of the user stays live', async () => {
    // Like a replay, a password change revokes whole families, so it must see a successor that a
    // concurrent rotation inserts; tried on many users, one live token in any round is a failure.
    const rounds = 40;
    const survivingRounds: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      const session = await register();
      const principal = principalFromAccessToken(session.access_token);
      await Promise.allSettled([
        harness.call(authEndpoints.refresh, { refresh_token: session.refresh_token }),
        harness.call(
          authEndpoints.changePassword,
          { current_password: goodPassword, new_password: `a new passphrase ${round}` },
          principal,
        ),
      ]);
      const live = await countRows('refresh_tokens', 'user_id = $1 AND revoked_at IS NULL', [
        session.user.id,
      ]);
      if (live > 0) survivingRounds.push(round);
    }
    expect(survivingRounds).toEqual([]);
  });

  it('when an API-key principal tries to change the password, then API_KEY_NOT_ALLOWED', async () => {
    const session = await register();
    const principal = {
      ...principalFromAccessToken(session.access_token),
      kind: 'api_key' as const,
      scopes: [],
    };
    await expect(
      harness.call(
        authEndpoints.changePassword,
        { current_password: goodPassword, new_password: 'another good passphrase' },
        principal,
      ),
    ).rejects.toMatchObject({ code: 'API_KEY_NOT_ALLOWED' });
  });
});

describe('metrics', () => {
  it('when sessions are issued, then access and refresh tokens are counted', async () => {
    const accessBefore = await metricValue(harness.registry, 'auth_jwt_tokens_issued_total', {
      type: 'access',
    });
    const refreshBefore = await metricValue(harness.registry, 'auth_jwt_tokens_issued_total', {
      type: 'refresh',
    });
    await register();
    expect(await metricValue(harness.registry, 'auth_jwt_tokens_issued_total', { type: 'access' })).toBe(
      accessBefore + 1,
    );
    expect(await metricValue(harness.registry, 'auth_jwt_tokens_issued_total', { type: 'refresh' })).toBe(
      refreshBefore + 1,
    );
  });
});
