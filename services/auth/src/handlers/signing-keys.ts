import { endpoint, type Registration } from '@zerostate/bus';
import { authEndpoints } from '@zerostate/contracts';
import { requireAdmin } from '../domain/access.js';
import { type AuthDependencies, originOf } from './dependencies.js';

/** jwks, signing-key.rotate. */
export function signingKeyRegistrations(dependencies: AuthDependencies): Registration[] {
  const { keyRing } = dependencies;

  const jwks = endpoint(authEndpoints.jwks, async () => keyRing.jwks());

  const rotate = endpoint(authEndpoints.rotateSigningKey, async (_input, context) => {
    const caller = requireAdmin(context.principal);
    const result = await keyRing.rotate(caller.user_id, originOf(context));
    context.logger.info({ kid: result.kid, retired_kids: result.retiredKids }, 'signing key rotated');
    return { kid: result.kid, retired_kids: result.retiredKids };
  });

  return [jwks, rotate];
}
