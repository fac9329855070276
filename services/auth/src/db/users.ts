import { authEvents, type Role } from '@zerostate/contracts';
import {
  enqueueEvent,
  inTransaction,
  isUniqueViolation,
  lockForTransaction,
  uuidV7,
} from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import { initialRoles, normalizeRoles, userDid } from '../domain/identity.js';
import type { RequestOrigin, UserAccount } from '../domain/types.js';
import { writeAudit } from './audit.js';
import { toUserAccount } from './mappers.js';
import type { AuthPrisma } from './prisma.js';
import { insertRefreshToken, type NewRefreshToken, revokeAllFamiliesOfUser } from './refresh-tokens.js';

export async function findUserByEmail(prisma: AuthPrisma, email: string): Promise<UserAccount | undefined> {
  const row = await prisma.user.findUnique({ where: { email } });
  return row ? toUserAccount(row) : undefined;
}

export async function findUserById(prisma: AuthPrisma, id: string): Promise<UserAccount | undefined> {
  const row = await prisma.user.findUnique({ where: { id } });
  return row ? toUserAccount(row) : undefined;
}

export interface Registration {
  email: string;
  name: string | null;
  passwordHash: string;
  refreshToken: NewRefreshToken;
  origin: RequestOrigin;
}

/**
 * Creates the user, its first refresh token, the audit row and the `user.registered` event in
 * one transaction, so a duplicate email (EMAIL_TAKEN) leaves nothing half-written.
 */
export function registerUser(prisma: AuthPrisma, registration: Registration): Promise<UserAccount> {
  return inTransaction(prisma, async (transaction) => {
    const roles = [...initialRoles];
    const id = uuidV7();
    const row = await transaction.user
      .create({
        data: {
          id,
          email: registration.email,
          name: registration.name,
          passwordHash: registration.passwordHash,
          did: userDid(id),
          roles,
        },
      })
      .catch((error: unknown) => {
        throw isUniqueViolation(error) ? new AppError('EMAIL_TAKEN', undefined, { cause: error }) : error;
      });
    await insertRefreshToken(transaction, {
      userId: id,
      token: registration.refreshToken,
      origin: registration.origin,
    });
    await writeAudit(transaction, registration.origin, {
      action: 'user_registered',
      actorUserId: id,
      targetId: id,
      metadata: { roles },
    });
    await enqueueEvent(transaction, authEvents.userRegistered, { user_id: id, did: row.did, roles });
    return toUserAccount(row);
  });
}

/** A successful login: stamps last_login_at, starts a refresh-token family, audits. */
export function recordLogin(
  prisma: AuthPrisma,
  options: {
    userId: string;
    refreshToken: NewRefreshToken;
    origin: RequestOrigin;
    rehashedPassword?: string;
  },
): Promise<UserAccount | 'inactive'> {
  return inTransaction(prisma, async (transaction) => {
    // Conditional on the user still being active: a deactivation or erasure that committed while
    // the password was checked wins, and no session starts after it.
    const { count } = await transaction.user.updateMany({
      where: { id: options.userId, isActive: true },
      data: {
        lastLoginAt: new Date(),
        ...(options.rehashedPassword ? { passwordHash: options.rehashedPassword } : {}),
      },
    });
    if (count === 0) return 'inactive' as const;
    const row = await transaction.user.findUniqueOrThrow({ where: { id: options.userId } });
    await insertRefreshToken(transaction, {
      userId: row.id,
      token: options.refreshToken,
      origin: options.origin,
    });
    await writeAudit(transaction, options.origin, {
      action: 'login_succeeded',
      actorUserId: row.id,
      targetId: row.id,
    });
    return toUserAccount(row);
  });
}

export function recordFailedLogin(
  prisma: AuthPrisma,
  options: {
    userId: string | null;
    reason: 'unknown_email' | 'wrong_password' | 'inactive';
    origin: RequestOrigin;
  },
): Promise<void> {
  return inTransaction(prisma, async (transaction) => {
    await writeAudit(transaction, options.origin, {
      action: 'login_failed',
      actorUserId: options.userId,
      targetId: options.userId,
      metadata: { reason: options.reason },
    });
  });
}

/** Replaces the hash and ends every session of the user: a changed password locks others out. */
export function changePassword(
  prisma: AuthPrisma,
  options: { userId: string; passwordHash: string; origin: RequestOrigin },
): Promise<void> {
  return inTransaction(prisma, async (transaction) => {
    await transaction.user.update({
      where: { id: options.userId },
      data: { passwordHash: options.passwordHash },
    });
    const revoked = await revokeAllFamiliesOfUser(transaction, options.userId, 'password_changed');
    await writeAudit(transaction, options.origin, {
      action: 'password_changed',
      actorUserId: options.userId,
      targetId: options.userId,
      metadata: { refresh_tokens_revoked: revoked },
    });
  });
}

/**
 * Serialises every change of who holds `admin`, so "is there another admin?" cannot change
 * between the check and the update.
 */
export const adminRolesLock = 'auth.admin-roles';

/**
 * Replaces a user's roles. Taking `admin` from the last admin is refused ('last_admin'): the
 * platform would have no administrator until an operator ran grant-admin.
 */
export function setUserRoles(
  prisma: AuthPrisma,
  options: { userId: string; roles: Role[]; actorUserId: string; origin: RequestOrigin },
): Promise<UserAccount | 'not_found' | 'last_admin'> {
  return inTransaction(prisma, async (transaction) => {
    await lockForTransaction(transaction, adminRolesLock);
    const before = await transaction.user.findUnique({
      where: { id: options.userId },
      select: { roles: true },
    });
    if (!before) return 'not_found' as const;
    if (before.roles.includes('admin') && !options.roles.includes('admin')) {
      const otherAdmins = await transaction.user.count({
        where: { roles: { has: 'admin' }, isActive: true, id: { not: options.userId } },
      });
      if (otherAdmins === 0) return 'last_admin' as const;
    }
    const row = await transaction.user.update({
      where: { id: options.userId },
      data: { roles: options.roles },
    });
    await writeAudit(transaction, options.origin, {
      action: 'roles_changed',
      actorUserId: options.actorUserId,
      targetId: options.userId,
      metadata: { previous_roles: before.roles, roles: options.roles },
    });
    return toUserAccount(row);
  });
}

/**
 * Adds `admin` to the roles of the user with this (normalised) email, for the operator command
 * grant-admin. Idempotent: a user who already is admin is returned unchanged and nothing is
 * audited; otherwise the change is audited with no actor, since no user account made it.
 */
export function grantAdminRole(
  prisma: AuthPrisma,
  options: { email: string; origin: RequestOrigin },
): Promise<{ user: UserAccount; changed: boolean } | 'not_found'> {
  return inTransaction(prisma, async (transaction) => {
    await lockForTransaction(transaction, adminRolesLock);
    const before = await transaction.user.findUnique({ where: { email: options.email } });
    if (!before) return 'not_found' as const;
    const previous = toUserAccount(before);
    if (previous.roles.includes('admin')) return { user: previous, changed: false };
    const roles = normalizeRoles([...previous.roles, 'admin']);
    const row = await transaction.user.update({ where: { id: before.id }, data: { roles } });
    await writeAudit(transaction, options.origin, {
      action: 'roles_changed',
      actorUserId: null,
      targetId: before.id,
      metadata: { via: 'grant-admin', previous_roles: previous.roles, roles },
    });
    return { user: toUserAccount(row), changed: true };
  });
}
