import { authEvents, type Role } from '@zerostate/contracts';
import {
  enqueueEvent,
  inTransaction,
  isUniqueViolation,
  lockForTransaction,
  uuidV7,
} from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import type pg from 'pg';
import { initialRoles, normalizeRoles, userDid } from '../domain/identity.js';
import type { RequestOrigin, UserAccount, UserProfile } from '../domain/types.js';
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

/**
 * The profile `svc.auth.me` answers, read on every `GET /users/me`. Prisma's `findUnique` batches
 * concurrent calls into one `IN (…)` query whose SQL, and so its plan and Prisma's compilation,
 * differs with every batch size; a profile put Prisma at about a quarter of the auth process's
 * CPU under load. This keeps the batching (one round trip, one socket write for everything that
 * arrived together) but with one fixed statement, `= ANY($1)`, prepared once per connection of
 * the kit's pool (the pool Prisma uses). The password hash is not read.
 */
const selectProfiles = {
  name: 'auth_user_profiles_by_ids',
  text: 'SELECT id, email, name, did, roles, is_active, created_at, last_login_at FROM users WHERE id = ANY($1::uuid[])',
};

interface ProfileRow {
  id: string;
  email: string;
  name: string | null;
  did: string;
  roles: string[];
  is_active: boolean;
  created_at: Date;
  last_login_at: Date | null;
}

function toProfile(row: ProfileRow): UserProfile {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    did: row.did,
    // Stored as a text array; only this service writes it, from the contract enum.
    roles: row.roles as Role[],
    isActive: row.is_active,
    createdAt: row.created_at,
    lastLoginAt: row.last_login_at,
  };
}

export type ProfileReader = (id: string) => Promise<UserProfile | undefined>;

/** At most this many ids go into one statement; more wait for the next. */
const maxBatch = 500;

/**
 * Reads profiles by id; the calls made while the same I/O batch is processed (the NATS messages
 * of one socket read) share one statement, sent when the event loop next checks for I/O.
 */
export function createProfileReader(pool: pg.Pool): ProfileReader {
  type Waiter = { resolve: (profile: UserProfile | undefined) => void; reject: (error: unknown) => void };
  let pending = new Map<string, Waiter[]>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const batch = pending;
    pending = new Map();
    const ids = [...batch.keys()];
    for (let start = 0; start < ids.length; start += maxBatch) {
      const slice = ids.slice(start, start + maxBatch);
      pool.query<ProfileRow>({ ...selectProfiles, values: [slice] }).then(
        ({ rows }) => {
          const found = new Map(rows.map((row) => [row.id, toProfile(row)]));
          for (const id of slice) for (const waiter of batch.get(id)!) waiter.resolve(found.get(id));
        },
        (error: unknown) => {
          for (const id of slice) for (const waiter of batch.get(id)!) waiter.reject(error);
        },
      );
    }
  };
  return (id) =>
    new Promise((resolve, reject) => {
      const waiters = pending.get(id);
      if (waiters) waiters.push({ resolve, reject });
      else pending.set(id, [{ resolve, reject }]);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
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
): Promise<{ user: UserAccount; issuedAtMs: number } | 'inactive'> {
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
    // Taken while this transaction holds the user's row: a deactivation waits for it, so its
    // revocation is stamped after this moment and refuses the token signed with it.
    const issuedAtMs = Date.now();
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
    return { user: toUserAccount(row), issuedAtMs };
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
