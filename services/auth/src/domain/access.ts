import { hasRole, type Principal } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';

/** Any caller the gateway authenticated, by JWT or API key. */
export function requirePrincipal(principal: Principal | undefined): Principal {
  if (!principal) throw new AppError('UNAUTHENTICATED');
  return principal;
}

/**
 * Actions that manage credentials (API keys, password) need a signed-in user: a leaked API key
 * must not be able to mint more keys or lock its owner out.
 */
export function requireUserSession(principal: Principal | undefined): Principal {
  const caller = requirePrincipal(principal);
  if (caller.kind !== 'user') throw new AppError('API_KEY_NOT_ALLOWED');
  return caller;
}

/**
 * Admin actions (roles, signing keys) need an admin's signed-in session, never an API key of any
 * scope: a leaked key must not become platform control. Checked here, not only at the gateway.
 */
export function requireAdmin(principal: Principal | undefined): Principal {
  const caller = requireUserSession(principal);
  if (!hasRole(caller, 'admin')) throw new AppError('FORBIDDEN');
  return caller;
}
