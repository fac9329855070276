import { randomUUID } from 'node:crypto';
import { servicePrincipal } from '@zerostate/bus';
import type { Principal, Scope } from '@zerostate/contracts';
import { codeOf } from '@zerostate/testkit';
import { describe, expect, it } from 'vitest';
import {
  isOperator,
  readableOwnerOf,
  requireAdminSession,
  requireCaller,
  requireEscrowCaller,
} from './access.js';

function principal(options: { admin?: boolean; system?: boolean; scopes?: Scope[] } = {}): Principal {
  const userId = randomUUID();
  return {
    kind: options.scopes ? 'api_key' : 'user',
    user_id: userId,
    did: `did:zerostate:user:${userId}`,
    roles: options.admin ? ['user', 'admin'] : ['user'],
    is_system: options.system ?? false,
    ...(options.scopes ? { scopes: options.scopes, api_key_id: randomUUID() } : {}),
  };
}

describe('requireCaller', () => {
  it('when nobody calls, then UNAUTHENTICATED; when an API key lacks the scope, INSUFFICIENT_SCOPE', () => {
    expect(codeOf(() => requireCaller(undefined, 'payments:read'))).toBe('UNAUTHENTICATED');
    const reader = principal({ scopes: ['payments:read'] });
    expect(codeOf(() => requireCaller(reader, 'payments:write'))).toBe('INSUFFICIENT_SCOPE');
    expect(requireCaller(reader, 'payments:read')).toBe(reader);
  });
});

describe('operators, systems and admins', () => {
  it('when a signed-in admin acts, then it is an operator; an admin API key never is', () => {
    expect(isOperator(principal({ admin: true }))).toBe(true);
    expect(isOperator(principal())).toBe(false);
    expect(isOperator({ ...principal({ admin: true, scopes: ['payments:read'] }) })).toBe(false);
  });

  it('when escrow is called, then only the task service or a signed-in admin may; is_system grants nothing', () => {
    expect(codeOf(() => requireEscrowCaller(undefined))).toBe('UNAUTHENTICATED');
    expect(codeOf(() => requireEscrowCaller(servicePrincipal('task')))).toBe('none');
    expect(codeOf(() => requireEscrowCaller(principal({ admin: true })))).toBe('none');
    expect(codeOf(() => requireEscrowCaller(principal({ system: true })))).toBe('FORBIDDEN');
    expect(codeOf(() => requireEscrowCaller(principal()))).toBe('FORBIDDEN');
    expect(
      codeOf(() => requireEscrowCaller(principal({ admin: true, system: true, scopes: ['payments:write'] }))),
    ).toBe('FORBIDDEN');
  });

  it('when an admin report is asked for, then only a signed-in admin gets it', () => {
    expect(codeOf(() => requireAdminSession(undefined))).toBe('UNAUTHENTICATED');
    expect(codeOf(() => requireAdminSession(principal()))).toBe('FORBIDDEN');
    expect(codeOf(() => requireAdminSession(principal({ admin: true, scopes: ['payments:read'] })))).toBe(
      'FORBIDDEN',
    );
    expect(codeOf(() => requireAdminSession(principal({ admin: true })))).toBe('none');
  });
});

describe('readableOwnerOf', () => {
  it('when a caller names no owner or themselves, then it is their own balance', () => {
    const caller = principal();
    expect(readableOwnerOf(caller, undefined)).toBe(caller.did);
    expect(readableOwnerOf(caller, caller.did)).toBe(caller.did);
  });

  it('when a caller names another owner, then only an operator reads it; anyone else gets NOT_FOUND', () => {
    const other = principal().did;
    expect(readableOwnerOf(principal({ admin: true }), other)).toBe(other);
    expect(codeOf(() => readableOwnerOf(principal(), other))).toBe('NOT_FOUND');
  });
});
