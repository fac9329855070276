import { hasRole, hasScope, type Principal, type Scope } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';

/**
 * The caller, or UNAUTHENTICATED. The gateway checks scopes too; checking again here keeps a
 * read-only API key from moving money even if a route were ever mis-declared.
 */
export function requireCaller(principal: Principal | undefined, scope: Scope): Principal {
  if (!principal) throw new AppError('UNAUTHENTICATED');
  if (!hasScope(principal, scope)) {
    throw new AppError('INSUFFICIENT_SCOPE', undefined, { details: { required_scope: scope } });
  }
  return principal;
}

/**
 * Admins and system principals may act on any account or channel (read any balance, force-close)
 * when signed in; an API key never does, whatever its owner's roles, like the admin reports.
 */
export function isOperator(principal: Principal): boolean {
  return principal.kind === 'user' && hasRole(principal, 'admin');
}

/**
 * Escrow moves money between users on a task's behalf: only the task service, acting as itself
 * (the contract lists it as the one caller and the adapter refuses any other service), or an
 * admin in a signed-in session may. Never an API key, and `is_system` grants nothing here.
 */
export function requireEscrowCaller(principal: Principal | undefined): Principal {
  if (!principal) throw new AppError('UNAUTHENTICATED');
  if (principal.kind === 'service') return principal;
  if (principal.kind !== 'user' || !principal.roles.includes('admin')) throw new AppError('FORBIDDEN');
  return principal;
}

/** Admin reports need a signed-in admin, never an API key. */
export function requireAdminSession(principal: Principal | undefined): Principal {
  if (!principal) throw new AppError('UNAUTHENTICATED');
  if (principal.kind !== 'user' || !hasRole(principal, 'admin')) throw new AppError('FORBIDDEN');
  return principal;
}

/**
 * Whose balance a caller reads: their own unless they name another owner, which only an operator
 * may. Someone else's balance is invisible, not forbidden: NOT_FOUND says nothing about whether
 * it exists.
 */
export function readableOwnerOf(caller: Principal, ownerDid: string | undefined): string {
  const owner = ownerDid ?? caller.did;
  if (owner !== caller.did && !isOperator(caller)) throw new AppError('NOT_FOUND');
  return owner;
}
