import { endpoint, type HandlerContext, type Registration } from '@zerostate/bus';
import { authEndpoints } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { logoutFamily, rotateRefreshToken } from '../db/refresh-tokens.js';
import { findUserByEmail, recordFailedLogin, recordLogin, registerUser } from '../db/users.js';
import { checkPasswordRule, needsRehash, normalizeEmail } from '../domain/password-rule.js';
import { isRefreshTokenShaped, sha256Hex } from '../domain/secrets.js';
import type { UserAccount } from '../domain/types.js';
import { type AuthDependencies, originOf } from './dependencies.js';
import { encodeSession, newRefreshToken } from './encode.js';

/** register, login, refresh, logout. */
export function sessionRegistrations(dependencies: AuthDependencies): Registration[] {
  const { prisma, passwords, config } = dependencies;

  const register = endpoint(authEndpoints.register, async (input, context) => {
    checkPasswordRule(input.password);
    const passwordHash = await passwords.hash(input.password);
    const refresh = newRefreshToken(dependencies);
    const user = await registerUser(prisma, {
      email: normalizeEmail(input.email),
      name: input.name ?? null,
      passwordHash,
      refreshToken: refresh.stored,
      origin: originOf(context),
    });
    dependencies.kickOutbox();
    return encodeSession(dependencies, user, refresh.token);
  });

  const login = endpoint(authEndpoints.login, async (input, context) => {
    const user = await checkCredentials(dependencies, normalizeEmail(input.email), input.password, context);
    const refresh = newRefreshToken(dependencies);
    const rehashedPassword = needsRehash(user.passwordHash, config.BCRYPT_COST)
      ? await passwords.hash(input.password)
      : undefined;
    const updated = await recordLogin(prisma, {
      userId: user.id,
      refreshToken: refresh.stored,
      origin: originOf(context),
      ...(rehashedPassword ? { rehashedPassword } : {}),
    });
    if (updated === 'inactive') {
      dependencies.metrics.logins.inc({ result: 'failure' });
      throw new AppError('INVALID_CREDENTIALS');
    }
    dependencies.metrics.logins.inc({ result: 'success' });
    return encodeSession(dependencies, updated, refresh.token);
  });

  const refresh = endpoint(authEndpoints.refresh, async (input, context) => {
    if (!isRefreshTokenShaped(input.refresh_token)) throw new AppError('INVALID_REFRESH_TOKEN');
    const successor = newRefreshToken(dependencies);
    const result = await rotateRefreshToken(prisma, {
      presentedHash: sha256Hex(input.refresh_token),
      successor: successor.stored,
      origin: originOf(context),
    });
    if (result.outcome === 'reused') {
      context.logger.warn({ target_user_id: result.userId }, 'refresh token reuse detected; family revoked');
      throw new AppError('REFRESH_TOKEN_REUSED');
    }
    if (result.outcome === 'invalid') throw new AppError('INVALID_REFRESH_TOKEN');
    return encodeSession(dependencies, result.user, successor.token);
  });

  const logout = endpoint(authEndpoints.logout, async (input, context) => {
    if (isRefreshTokenShaped(input.refresh_token)) {
      await logoutFamily(prisma, {
        presentedHash: sha256Hex(input.refresh_token),
        origin: originOf(context),
      });
    }
    return {};
  });

  return [register, login, refresh, logout];
}

/**
 * Every failure looks the same to the caller (INVALID_CREDENTIALS) and costs one bcrypt
 * comparison, also for unknown emails, so responses do not reveal which emails exist.
 */
async function checkCredentials(
  dependencies: AuthDependencies,
  email: string,
  password: string,
  context: HandlerContext,
): Promise<UserAccount> {
  const user = await findUserByEmail(dependencies.prisma, email);
  const matches = await dependencies.passwords.verify(
    password,
    user?.passwordHash ?? dependencies.dummyPasswordHash,
  );
  const reason = !user
    ? 'unknown_email'
    : !matches
      ? 'wrong_password'
      : !user.isActive
        ? 'inactive'
        : undefined;
  if (user && reason === undefined) return user;
  await recordFailedLogin(dependencies.prisma, {
    userId: user?.id ?? null,
    reason: reason ?? 'unknown_email',
    origin: originOf(context),
  });
  dependencies.metrics.logins.inc({ result: 'failure' });
  throw new AppError('INVALID_CREDENTIALS');
}
