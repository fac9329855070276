import { authEvents, type Role } from '@zerostate/contracts';
import { enqueueEvent, inTransaction, lockForTransaction } from '@zerostate/database';
import type { RequestOrigin, UserAccount } from '../domain/types.js';
import { writeAudit } from './audit.js';
import { toUserAccount } from './mappers.js';
import type { AuthPrisma, Transaction } from './prisma.js';
import { revokeAllFamiliesOfUser } from './refresh-tokens.js';
import { adminRolesLock } from './users.js';

/** A user's lifecycle beside its account: when it was deactivated or erased. */
export interface ManagedUser extends UserAccount {
  deactivatedAt: Date | null;
  erasedAt: Date | null;
}

/** Access tokens of `userId` issued at or before `revokedAt` are refused until `expiresAt`. */
export interface SessionRevocation {
  userId: string;
  revokedAt: Date;
  expiresAt: Date;
}

type UserRow = Parameters<typeof toUserAccount>[0];

function toManagedUser(row: UserRow): ManagedUser {
  return { ...toUserAccount(row), deactivatedAt: row.deactivatedAt, erasedAt: row.erasedAt };
}

/**
 * Ends every session of a user at once, in the caller's transaction: revokes its refresh tokens,
 * stamps `sessions_revoked_at` (every gateway then refuses access tokens issued until now) and
 * emits the event gateways apply. The stamp is the database clock, like the tokens' expiry checks.
 */
async function revokeSessions(
  transaction: Transaction,
  userId: string,
  reason: string,
  accessTokenTtlSeconds: number,
): Promise<{ revocation: SessionRevocation; refreshTokensRevoked: number }> {
  const refreshTokensRevoked = await revokeAllFamiliesOfUser(transaction, userId, reason);
  const [row] = await transaction.$queryRaw<{ revoked_at: Date }[]>`
    UPDATE users SET sessions_revoked_at = clock_timestamp(), updated_at = clock_timestamp()
    WHERE id = ${userId}::uuid RETURNING sessions_revoked_at AS revoked_at`;
  const revokedAt = row!.revoked_at;
  const revocation = {
    userId,
    revokedAt,
    expiresAt: new Date(revokedAt.getTime() + accessTokenTtlSeconds * 1000),
  };
  await enqueueEvent(transaction, authEvents.sessionsRevoked, encodeRevocation(revocation));
  return { revocation, refreshTokensRevoked };
}

export function encodeRevocation(revocation: SessionRevocation) {
  return {
    user_id: revocation.userId,
    revoked_at: revocation.revokedAt.toISOString(),
    expires_at: revocation.expiresAt.toISOString(),
  };
}

/** Is another active admin left if `userId` stops being one? Call under `adminRolesLock`. */
async function isLastAdmin(transaction: Transaction, user: { id: string; roles: string[] }) {
  if (!user.roles.includes('admin')) return false;
  const others = await transaction.user.count({
    where: { roles: { has: 'admin' }, isActive: true, id: { not: user.id } },
  });
  return others === 0;
}

export interface LifecycleOptions {
  userId: string;
  actorUserId: string;
  origin: RequestOrigin;
  accessTokenTtlSeconds: number;
}

/**
 * Deactivation: the user cannot sign in, refresh or use an API key (auth refuses inactive
 * owners), and its access tokens stop at every gateway. Erased users and the last active admin
 * are refused; deactivating a deactivated user revokes its sessions again, harmlessly.
 */
export function deactivateUser(
  prisma: AuthPrisma,
  options: LifecycleOptions & { reason: string | undefined },
): Promise<{ user: ManagedUser; revocation: SessionRevocation } | 'not_found' | 'erased' | 'last_admin'> {
  return inTransaction(prisma, async (transaction) => {
    await lockForTransaction(transaction, adminRolesLock);
    const before = await lockUser(transaction, options.userId);
    if (!before) return 'not_found' as const;
    if (before.erasedAt) return 'erased' as const;
    if (before.isActive && (await isLastAdmin(transaction, before))) return 'last_admin' as const;
    await transaction.user.update({
      where: { id: before.id },
      data: { isActive: false, deactivatedAt: before.deactivatedAt ?? new Date() },
    });
    const { revocation, refreshTokensRevoked } = await revokeSessions(
      transaction,
      before.id,
      'user_deactivated',
      options.accessTokenTtlSeconds,
    );
    await writeAudit(transaction, options.origin, {
      action: 'user_deactivated',
      actorUserId: options.actorUserId,
      targetId: before.id,
      metadata: { reason: options.reason ?? null, refresh_tokens_revoked: refreshTokensRevoked },
    });
    const user = toManagedUser(await transaction.user.findUniqueOrThrow({ where: { id: before.id } }));
    return { user, revocation };
  });
}

/** Reactivation: sign-in works again; sessions revoked by the deactivation stay revoked. */
export function reactivateUser(
  prisma: AuthPrisma,
  options: LifecycleOptions,
): Promise<ManagedUser | 'not_found' | 'erased'> {
  return inTransaction(prisma, async (transaction) => {
    const before = await lockUser(transaction, options.userId);
    if (!before) return 'not_found' as const;
    if (before.erasedAt) return 'erased' as const;
    if (before.isActive) return before;
    const row = await transaction.user.update({
      where: { id: before.id },
      data: { isActive: true, deactivatedAt: null },
    });
    await writeAudit(transaction, options.origin, {
      action: 'user_reactivated',
      actorUserId: options.actorUserId,
      targetId: before.id,
    });
    return toManagedUser(row);
  });
}

/** An admin ends every session of a user (who stays active and may sign in again). */
export function revokeUserSessions(
  prisma: AuthPrisma,
  options: LifecycleOptions,
): Promise<{ revocation: SessionRevocation; refreshTokensRevoked: number } | 'not_found'> {
  return inTransaction(prisma, async (transaction) => {
    const before = await lockUser(transaction, options.userId);
    if (!before) return 'not_found' as const;
    const revoked = await revokeSessions(
      transaction,
      before.id,
      'admin_revoked',
      options.accessTokenTtlSeconds,
    );
    await writeAudit(transaction, options.origin, {
      action: 'sessions_revoked',
      actorUserId: options.actorUserId,
      targetId: before.id,
      metadata: { refresh_tokens_revoked: revoked.refreshTokensRevoked },
    });
    return revoked;
  });
}

/** Revokes every live API key of a user, with one revoked event per key for the gateways' caches. */
export function revokeUserApiKeys(
  prisma: AuthPrisma,
  options: Omit<LifecycleOptions, 'accessTokenTtlSeconds'>,
): Promise<number | 'not_found'> {
  return inTransaction(prisma, async (transaction) => {
    const before = await lockUser(transaction, options.userId);
    if (!before) return 'not_found' as const;
    const revoked = await revokeApiKeysOf(transaction, before.id);
    await writeAudit(transaction, options.origin, {
      action: 'api_keys_revoked',
      actorUserId: options.actorUserId,
      targetId: before.id,
      metadata: { api_keys_revoked: revoked },
    });
    return revoked;
  });
}

async function revokeApiKeysOf(transaction: Transaction, userId: string): Promise<number> {
  const revoked = await transaction.$queryRaw<{ id: string }[]>`
    UPDATE api_keys SET revoked_at = clock_timestamp()
    WHERE user_id = ${userId}::uuid AND revoked_at IS NULL RETURNING id::text`;
  for (const { id } of revoked) {
    await enqueueEvent(transaction, authEvents.apiKeyRevoked, { api_key_id: id, user_id: userId });
  }
  return revoked.length;
}

/**
 * Erasure (GDPR art. 17), after the payment service closed the user's (empty) account: personal
 * data goes — email (replaced by `erased:<id>`, freeing the address), name, password, metadata,
 * sessions with their IPs and user agents, API key names, and the IPs and user agents of its
 * audit rows. The row stays with its id, DID and roles, because the ledger and the audit trail
 * name them; docs/API.md "Your data" lists what is kept and why.
 */
export function eraseUser(
  prisma: AuthPrisma,
  options: Omit<LifecycleOptions, 'actorUserId'>,
): Promise<{ revocation: SessionRevocation } | 'not_found' | 'last_admin'> {
  return inTransaction(prisma, async (transaction) => {
    await lockForTransaction(transaction, adminRolesLock);
    const before = await lockUser(transaction, options.userId);
    if (!before || before.erasedAt) return 'not_found' as const;
    if (before.isActive && (await isLastAdmin(transaction, before))) return 'last_admin' as const;
    const { revocation } = await revokeSessions(
      transaction,
      before.id,
      'account_erased',
      options.accessTokenTtlSeconds,
    );
    await transaction.refreshToken.deleteMany({ where: { userId: before.id } });
    const keysRevoked = await revokeApiKeysOf(transaction, before.id);
    await transaction.apiKey.updateMany({ where: { userId: before.id }, data: { name: 'erased' } });
    await transaction.user.update({
      where: { id: before.id },
      data: {
        email: `erased:${before.id}`,
        name: null,
        passwordHash: '!erased',
        metadata: {},
        lastLoginAt: null,
        isActive: false,
        erasedAt: new Date(),
      },
    });
    await transaction.$executeRaw`
      UPDATE audit_log SET ip = NULL, user_agent = NULL
      WHERE actor_user_id = ${before.id}::uuid OR target_id = ${before.id}`;
    // The erasure's own row carries no IP or user agent either.
    await writeAudit(
      transaction,
      { requestId: options.origin.requestId, ip: null, userAgent: null },
      {
        action: 'account_erased',
        actorUserId: before.id,
        targetId: before.id,
        metadata: { api_keys_revoked: keysRevoked },
      },
    );
    await enqueueEvent(transaction, authEvents.userErased, { user_id: before.id, did: before.did });
    return { revocation };
  });
}

async function lockUser(transaction: Transaction, userId: string): Promise<ManagedUser | undefined> {
  const locked = await transaction.$queryRaw<{ id: string }[]>`
    SELECT id::text FROM users WHERE id = ${userId}::uuid FOR UPDATE`;
  if (locked.length === 0) return undefined;
  return toManagedUser(await transaction.user.findUniqueOrThrow({ where: { id: userId } }));
}

/**
 * Admin search, newest first (ids are UUID v7). `q` is an exact user id or DID, or else a prefix
 * of the lower-cased email.
 */
export async function listUsers(
  prisma: AuthPrisma,
  query: {
    q: string | undefined;
    status: 'active' | 'deactivated' | 'erased' | undefined;
    role: Role | undefined;
    limit: number;
    cursor: string | undefined;
  },
): Promise<{ items: ManagedUser[]; nextCursor: string | null }> {
  const q = query.q?.toLowerCase();
  const match = q
    ? /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(q)
      ? { id: q }
      : q.startsWith('did:')
        ? { did: q }
        : { email: { startsWith: q } }
    : {};
  const status =
    query.status === 'active'
      ? { isActive: true }
      : query.status === 'deactivated'
        ? { isActive: false, erasedAt: null }
        : query.status === 'erased'
          ? { erasedAt: { not: null } }
          : {};
  const rows = await prisma.user.findMany({
    where: {
      ...match,
      ...status,
      ...(query.role ? { roles: { has: query.role } } : {}),
      ...(query.cursor ? { id: { lt: query.cursor } } : {}),
    },
    orderBy: { id: 'desc' },
    take: query.limit + 1,
  });
  const items = rows.slice(0, query.limit).map(toManagedUser);
  return { items, nextCursor: rows.length > query.limit ? (items.at(-1)?.id ?? null) : null };
}

/** Revocations whose tokens may still be live, oldest first, after `since`, at most `limit`. */
export async function listSessionRevocations(
  prisma: AuthPrisma,
  options: { since: Date | undefined; accessTokenTtlSeconds: number; limit: number },
): Promise<{ items: SessionRevocation[]; hasMore: boolean }> {
  const rows = await prisma.$queryRaw<{ id: string; revoked_at: Date }[]>`
    SELECT id::text, sessions_revoked_at AS revoked_at FROM users
    WHERE sessions_revoked_at > clock_timestamp() - ${options.accessTokenTtlSeconds}::double precision * interval '1 second'
      AND (${options.since ?? null}::timestamptz IS NULL OR sessions_revoked_at > ${options.since ?? null}::timestamptz)
    ORDER BY sessions_revoked_at, id LIMIT ${options.limit + 1}::integer`;
  const items = rows.slice(0, options.limit).map((row) => ({
    userId: row.id,
    revokedAt: row.revoked_at,
    expiresAt: new Date(row.revoked_at.getTime() + options.accessTokenTtlSeconds * 1000),
  }));
  return { items, hasMore: rows.length > options.limit };
}
