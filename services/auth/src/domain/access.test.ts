import type { Principal } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { describe, expect, it } from 'vitest';
import { requireAdmin, requirePrincipal, requireUserSession } from './access.js';

const user: Principal = {
  kind: 'user',
  user_id: '0190b1c2-0000-7000-8000-000000000001',
  did: 'did:zerostate:user:0190b1c2-0000-7000-8000-000000000001',
  roles: ['user'],
  is_system: false,
};
const apiKey: Principal = { ...user, kind: 'api_key', scopes: ['*:read'] };

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    return error instanceof AppError ? error.code : 'not an AppError';
  }
}

describe('access rules', () => {
  it('when no principal is given, then every rule answers UNAUTHENTICATED', () => {
    expect(codeOf(() => requirePrincipal(undefined))).toBe('UNAUTHENTICATED');
    expect(codeOf(() => requireUserSession(undefined))).toBe('UNAUTHENTICATED');
    expect(codeOf(() => requireAdmin(undefined))).toBe('UNAUTHENTICATED');
  });

  it('when an API key acts where a session is needed, then it is API_KEY_NOT_ALLOWED', () => {
    expect(codeOf(() => requireUserSession(apiKey))).toBe('API_KEY_NOT_ALLOWED');
    expect(requireUserSession(user)).toBe(user);
  });

  it('when a non-admin needs admin, then FORBIDDEN; an admin or a system user passes', () => {
    expect(codeOf(() => requireAdmin(user))).toBe('FORBIDDEN');
    expect(codeOf(() => requireAdmin({ ...user, roles: ['user', 'admin'] }))).toBeUndefined();
    expect(codeOf(() => requireAdmin({ ...user, is_system: true }))).toBeUndefined();
  });

  it('when an admin or a system user acts through an API key, then admin actions are API_KEY_NOT_ALLOWED', () => {
    expect(codeOf(() => requireAdmin({ ...apiKey, roles: ['user', 'admin'], scopes: ['*:read'] }))).toBe(
      'API_KEY_NOT_ALLOWED',
    );
    expect(codeOf(() => requireAdmin({ ...apiKey, is_system: true }))).toBe('API_KEY_NOT_ALLOWED');
  });
});
