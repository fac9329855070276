import { randomUUID } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { defineEndpoint } from './endpoint.js';
import { hasRole, hasScope, type Principal } from './principal.js';

const base = { user_id: randomUUID(), did: 'did:zerostate:user:x', is_system: false };
const session: Principal = { ...base, kind: 'user', roles: ['user'] };
const readKey: Principal = {
  ...base,
  kind: 'api_key',
  roles: ['user'],
  scopes: ['*:read'],
  api_key_id: randomUUID(),
};
const bidKey: Principal = {
  ...base,
  kind: 'api_key',
  roles: ['user'],
  scopes: ['bids:write'],
  api_key_id: randomUUID(),
};

describe('when scopes are checked', () => {
  test('then a user session holds every scope', () => {
    expect(hasScope(session, 'payments:write')).toBe(true);
  });
  test('then *:read grants every read scope and no write scope', () => {
    expect(hasScope(readKey, 'users:read')).toBe(true);
    expect(hasScope(readKey, 'payments:read')).toBe(true);
    expect(hasScope(readKey, 'payments:write')).toBe(false);
  });
  test('then a key holds exactly its listed write scopes', () => {
    expect(hasScope(bidKey, 'bids:write')).toBe(true);
    expect(hasScope(bidKey, 'tasks:write')).toBe(false);
    expect(hasScope(bidKey, 'users:read')).toBe(false);
  });
  test('then an API key without a scope list holds nothing', () => {
    expect(hasScope({ ...bidKey, scopes: undefined }, 'users:read')).toBe(false);
  });
});

describe('when roles are checked', () => {
  test('then only listed roles count, and a system principal has every role', () => {
    expect(hasRole(session, 'admin')).toBe(false);
    expect(hasRole({ ...session, roles: ['user', 'admin'] }, 'admin')).toBe(true);
    expect(hasRole({ ...session, is_system: true }, 'admin')).toBe(true);
  });
});

describe('when an endpoint is defined', () => {
  const shape = { service: 'auth', request: z.object({}), response: z.object({}), errors: [] };
  test('then its subject is svc.<service>.<name>', () => {
    expect(defineEndpoint({ ...shape, name: 'api-key.create', timeoutMs: 1_000 }).subject).toBe(
      'svc.auth.api-key.create',
    );
  });
  test('then a name that is not lowercase kebab or a missing timeout is refused', () => {
    expect(() => defineEndpoint({ ...shape, name: 'CreateKey', timeoutMs: 1_000 })).toThrow();
    expect(() => defineEndpoint({ ...shape, name: 'create', timeoutMs: 0 })).toThrow();
  });
});
