import { endpoint, type Registration } from '@zerostate/bus';
import { authEndpoints } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { encodeRevocation, setUserRoles } from '../db/lifecycle.js';
import { changePassword, createProfileReader, findUserById } from '../db/users.js';
import { requireAdmin, requirePrincipal, requireUserSession } from '../domain/access.js';
import { normalizeRoles } from '../domain/identity.js';
import { checkPasswordRule } from '../domain/password-rule.js';
import { type AuthDependencies, originOf } from './dependencies.js';
import { encodeUser } from './encode.js';

/** me, change-password, set-roles. */
export function accountRegistrations(dependencies: AuthDependencies): Registration[] {
  const { prisma, pool, passwords } = dependencies;
  const readProfile = createProfileReader(pool);

  const me = endpoint(authEndpoints.me, async (_input, context) => {
    const caller = requirePrincipal(context.principal);
    const user = await readProfile(caller.user_id);
    if (!user) throw new AppError('NOT_FOUND');
    return encodeUser(user);
  });

  const changePasswordEndpoint = endpoint(authEndpoints.changePassword, async (input, context) => {
    const caller = requireUserSession(context.principal);
    checkPasswordRule(input.new_password);
    const user = await findUserById(prisma, caller.user_id);
    if (!user) throw new AppError('UNAUTHENTICATED');
    if (!(await passwords.verify(input.current_password, user.passwordHash))) {
      throw new AppError('INVALID_CREDENTIALS', 'The current password is wrong.');
    }
    const passwordHash = await passwords.hash(input.new_password);
    await changePassword(prisma, { userId: user.id, passwordHash, origin: originOf(context) });
    return {};
  });

  const setRoles = endpoint(authEndpoints.setRoles, async (input, context) => {
    const caller = requireAdmin(context.principal);
    const outcome = await setUserRoles(prisma, {
      userId: input.user_id,
      roles: normalizeRoles(input.roles),
      actorUserId: caller.user_id,
      origin: originOf(context),
      accessTokenTtlSeconds: dependencies.config.ACCESS_TOKEN_TTL_SECONDS,
    });
    if (outcome === 'not_found') throw new AppError('NOT_FOUND');
    if (outcome === 'last_admin')
      throw new AppError('CONFLICT', 'The last admin cannot lose the admin role.');
    if (outcome.revocation) dependencies.kickOutbox();
    return {
      ...encodeUser(outcome.user),
      revocation: outcome.revocation ? encodeRevocation(outcome.revocation) : null,
    };
  });

  return [me, changePasswordEndpoint, setRoles];
}
