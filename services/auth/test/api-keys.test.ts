import { authEndpoints, type Principal } from '@zerostate/contracts';
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
  harness = await startHarness({ name: 'auth_api_keys' });
});

afterAll(async () => {
  await harness?.stop();
});

async function signedInUser(): Promise<Principal> {
  const session = await harness.call(authEndpoints.register, {
    email: uniqueEmail('keys'),
    password: goodPassword,
  });
  return principalFromAccessToken(session.access_token);
}

async function createKey(principal: Principal, overrides: { expires_in_days?: number; name?: string } = {}) {
  return harness.call(
    authEndpoints.createApiKey,
    { name: overrides.name ?? 'agent', scopes: ['agents:write', '*:read'], ...overrides },
    principal,
  );
}

describe('API keys', () => {
  it('when a key is created, then it is shown once, only its hash is stored and it verifies to an api_key principal', async () => {
    const user = await signedInUser();
    const created = await createKey(user, { expires_in_days: 30 });

    expect(created.key).toMatch(/^zs_[A-Za-z0-9_-]{43}$/);
    expect(created.prefix).toBe(created.key.slice(0, 11));
    expect(created.scopes).toEqual(['agents:write', '*:read']);
    expect(new Date(created.expires_at!).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    const stored = await harness.db.query('SELECT * FROM api_keys WHERE id = $1', [created.id]);
    expect(JSON.stringify(stored.rows[0])).not.toContain(created.key);
    expect(stored.rows[0].key_hash).toHaveLength(64);

    const principal = await harness.call(authEndpoints.verifyApiKey, { key: created.key });
    expect(principal).toEqual({
      kind: 'api_key',
      user_id: user.user_id,
      did: user.did,
      roles: ['user'],
      is_system: false,
      scopes: ['agents:write', '*:read'],
      api_key_id: created.id,
    });
    const used = await harness.db.query('SELECT last_used_at FROM api_keys WHERE id = $1', [created.id]);
    expect(used.rows[0].last_used_at).not.toBeNull();
    expect(
      await harness.db.query("SELECT 1 FROM audit_log WHERE action = 'api_key_created' AND target_id = $1", [
        created.id,
      ]),
    ).toMatchObject({ rowCount: 1 });
  });

  it('when keys are listed, then they come newest first, paged by cursor, and never include the key itself', async () => {
    const user = await signedInUser();
    const created = [];
    for (const name of ['one', 'two', 'three']) created.push(await createKey(user, { name }));

    const firstPage = await harness.call(authEndpoints.listApiKeys, { limit: 2 }, user);
    expect(firstPage.items.map((key) => key.name)).toEqual(['three', 'two']);
    expect(firstPage.next_cursor).toBe(created[1]!.id);
    expect(JSON.stringify(firstPage)).not.toContain(created[2]!.key);
    const secondPage = await harness.call(
      authEndpoints.listApiKeys,
      { limit: 2, cursor: firstPage.next_cursor! },
      user,
    );
    expect(secondPage.items.map((key) => key.name)).toEqual(['one']);
    expect(secondPage.next_cursor).toBeNull();

    const asApiKey = await harness.call(authEndpoints.verifyApiKey, { key: created[0]!.key });
    const viaKey = await harness.call(authEndpoints.listApiKeys, { limit: 10 }, asApiKey);
    expect(viaKey.items).toHaveLength(3);
    await expect(
      harness.call(authEndpoints.listApiKeys, { limit: 10, cursor: 'nope' }, user),
    ).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    await expect(harness.call(authEndpoints.listApiKeys, { limit: 10 })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });

  it('when a key is revoked, then verification fails, an event is queued, and a repeat revoke is still fine', async () => {
    const user = await signedInUser();
    const created = await createKey(user);
    const invalidBefore = await metricValue(harness.registry, 'auth_api_key_validations_total', {
      result: 'invalid',
    });

    await expect(harness.call(authEndpoints.revokeApiKey, { id: created.id }, user)).resolves.toEqual({});
    await expect(harness.call(authEndpoints.revokeApiKey, { id: created.id }, user)).resolves.toEqual({});

    await expect(harness.call(authEndpoints.verifyApiKey, { key: created.key })).rejects.toMatchObject({
      code: 'INVALID_API_KEY',
    });
    expect(await metricValue(harness.registry, 'auth_api_key_validations_total', { result: 'invalid' })).toBe(
      invalidBefore + 1,
    );
    const events = await harness.db.query(
      "SELECT payload FROM outbox WHERE subject = 'evt.auth.api-key.revoked' AND payload->>'api_key_id' = $1",
      [created.id],
    );
    expect(events.rows).toEqual([{ payload: { api_key_id: created.id, user_id: user.user_id } }]);
    const listed = await harness.call(authEndpoints.listApiKeys, { limit: 10 }, user);
    expect(listed.items[0]?.revoked_at).not.toBeNull();
  });

  it("when a user revokes another user's key, then NOT_FOUND and the key still works", async () => {
    const owner = await signedInUser();
    const stranger = await signedInUser();
    const created = await createKey(owner);
    await expect(
      harness.call(authEndpoints.revokeApiKey, { id: created.id }, stranger),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(harness.call(authEndpoints.verifyApiKey, { key: created.key })).resolves.toMatchObject({
      api_key_id: created.id,
    });
  });

  it('when a key has expired or its owner is inactive, then INVALID_API_KEY', async () => {
    const user = await signedInUser();
    const expiring = await createKey(user, { expires_in_days: 1 });
    const other = await createKey(user);
    await harness.db.query("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", [
      expiring.id,
    ]);
    await expect(harness.call(authEndpoints.verifyApiKey, { key: expiring.key })).rejects.toMatchObject({
      code: 'INVALID_API_KEY',
    });
    await harness.db.query('UPDATE users SET is_active = false WHERE id = $1', [user.user_id]);
    await expect(harness.call(authEndpoints.verifyApiKey, { key: other.key })).rejects.toMatchObject({
      code: 'INVALID_API_KEY',
    });
    await expect(harness.call(authEndpoints.verifyApiKey, { key: 'zs_unknown' })).rejects.toMatchObject({
      code: 'INVALID_API_KEY',
    });
  });

  it('when an API-key principal tries to create or revoke keys, then API_KEY_NOT_ALLOWED', async () => {
    const user = await signedInUser();
    const created = await createKey(user);
    const asApiKey = await harness.call(authEndpoints.verifyApiKey, { key: created.key });
    await expect(createKey(asApiKey)).rejects.toMatchObject({ code: 'API_KEY_NOT_ALLOWED' });
    await expect(
      harness.call(authEndpoints.revokeApiKey, { id: created.id }, asApiKey),
    ).rejects.toMatchObject({
      code: 'API_KEY_NOT_ALLOWED',
    });
    await expect(createKey(undefined as unknown as Principal)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });

  it('when a user already holds 50 live keys, then creating another is CONFLICT until one is revoked', async () => {
    const user = await signedInUser();
    await harness.db.query(
      `INSERT INTO api_keys (id, user_id, name, prefix, key_hash, scopes)
       SELECT gen_random_uuid(), $1, 'bulk', 'zs_bulk0000', md5(random()::text) || md5(random()::text), ARRAY['*:read']
       FROM generate_series(1, 49)`,
      [user.user_id],
    );
    const fiftieth = await createKey(user);
    await expect(createKey(user)).rejects.toMatchObject({ code: 'CONFLICT' });
    await harness.call(authEndpoints.revokeApiKey, { id: fiftieth.id }, user);
    await expect(createKey(user)).resolves.toMatchObject({ name: 'agent' });
  });
});
