import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { inTransaction, lockForTransaction } from '@zerostate/database';
import type { RequestOrigin, UserAccount } from '../domain/types.js';
import { writeAudit } from './audit.js';
import { toUserAccount } from './mappers.js';
import type { AuthPrisma, Transaction } from './prisma.js';

/** A refresh token about to be stored: only its hash is kept. */
export interface NewRefreshToken {
  hash: string;
  expiresAt: Date;
}

export async function insertRefreshToken(
  transaction: Transaction,
  options: {
    userId: string;
    familyId?: string;
    rotatedFromId?: string;
    token: NewRefreshToken;
    origin: RequestOrigin;
  },
): Promise<void> {
  await transaction.refreshToken.create({
    data: {
      userId: options.userId,
      tokenHash: options.token.hash,
      familyId: options.familyId ?? randomUUID(),
      rotatedFromId: options.rotatedFromId ?? null,
      expiresAt: options.token.expiresAt,
      ip: options.origin.ip?.slice(0, 64) ?? null,
      userAgent: options.origin.userAgent?.slice(0, 512) ?? null,
    },
  });
}

export type RotationResult =
  | { outcome: 'rotated'; user: UserAccount; issuedAtMs: number }
  | { outcome: 'reused'; userId: string }
  | { outcome: 'invalid' };

type ClaimedRow = { id: string; user_id: string; family_id: string };

/**
 * Serialises every transaction that rotates or revokes tokens of one family, on all replicas.
 * Without it a family revocation (an UPDATE over the family) would run on a snapshot that misses
 * the successor a concurrent rotation is inserting, and that successor would stay usable.
 * The lock is taken before any token row is read or changed, so later statements of the
 * transaction see everything an earlier holder committed.
 */
async function lockFamily(transaction: Transaction, familyId: string): Promise<void> {
  await lockForTransaction(transaction, `auth.refresh-family:${familyId}`);
}

/** The family of a stored token (it never changes), or undefined for an unknown token. */
async function familyOfToken(transaction: Transaction, tokenHash: string): Promise<string | undefined> {
  const row = await transaction.refreshToken.findUnique({
    where: { tokenHash },
    select: { familyId: true },
  });
  return row?.familyId;
}

/**
 * Rotates a refresh token in one transaction under its family's lock. The conditional UPDATE
 * claims the presented token only while it is live; of two concurrent rotations the second finds
 * it revoked and is treated as a replay. A replayed token (rotated or revoked before) revokes its
 * whole family — the commit keeps that revocation although the caller gets an error.
 */
export function rotateRefreshToken(
  prisma: AuthPrisma,
  options: { presentedHash: string; successor: NewRefreshToken; origin: RequestOrigin },
): Promise<RotationResult> {
  return inTransaction(prisma, async (transaction) => {
    const familyId = await familyOfToken(transaction, options.presentedHash);
    if (familyId === undefined) return { outcome: 'invalid' };
    await lockFamily(transaction, familyId);
    const claimed = await transaction.$queryRaw<ClaimedRow[]>`
      UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = 'rotated'
      WHERE token_hash = ${options.presentedHash} AND revoked_at IS NULL AND expires_at > now()
      RETURNING id::text, user_id::text, family_id::text`;
    const row = claimed[0];
    if (!row) return handleUnclaimable(transaction, options.presentedHash, options.origin);
    const user = await transaction.user.findUnique({ where: { id: row.user_id } });
    if (!user?.isActive) {
      await revokeFamily(transaction, row.family_id, 'user_inactive');
      return { outcome: 'invalid' };
    }
    await insertRefreshToken(transaction, {
      userId: row.user_id,
      familyId: row.family_id,
      rotatedFromId: row.id,
      token: options.successor,
      origin: options.origin,
    });
    // Under the family's lock, which a revocation of the user's sessions takes too: one that
    // commits after this transaction is stamped after this moment.
    return { outcome: 'rotated', user: toUserAccount(user), issuedAtMs: Date.now() };
  });
}

async function handleUnclaimable(
  transaction: Transaction,
  presentedHash: string,
  origin: RequestOrigin,
): Promise<RotationResult> {
  const known = await transaction.refreshToken.findUnique({ where: { tokenHash: presentedHash } });
  // Unknown, or merely expired while still unrevoked: nothing to protect, just refuse.
  if (!known || known.revokedAt === null) return { outcome: 'invalid' };
  const revokedCount = await revokeFamily(transaction, known.familyId, 'reuse_detected');
  await writeAudit(transaction, origin, {
    action: 'refresh_reuse_detected',
    actorUserId: known.userId,
    targetId: known.familyId,
    metadata: { token_id: known.id, previous_reason: known.revokedReason, tokens_revoked: revokedCount },
  });
  return { outcome: 'reused', userId: known.userId };
}

/** Revokes the live tokens of a family; the caller holds the family's lock. */
async function revokeFamily(transaction: Transaction, familyId: string, reason: string): Promise<number> {
  const result = await transaction.refreshToken.updateMany({
    where: { familyId, revokedAt: null },
    data: { revokedAt: new Date(), revokedReason: reason },
  });
  return result.count;
}

/**
 * Revokes every live token of a user (password change). Each live family is locked first, in a
 * fixed order so two such calls cannot deadlock, so a rotation in flight either finishes before
 * (and its successor is revoked here) or runs after and finds its token revoked.
 */
export async function revokeAllFamiliesOfUser(
  transaction: Transaction,
  userId: string,
  reason: string,
): Promise<number> {
  const families = await transaction.refreshToken.findMany({
    where: { userId, revokedAt: null },
    distinct: ['familyId'],
    select: { familyId: true },
    orderBy: { familyId: 'asc' },
  });
  for (const { familyId } of families) await lockFamily(transaction, familyId);
  const result = await transaction.refreshToken.updateMany({
    where: { userId, revokedAt: null },
    data: { revokedAt: new Date(), revokedReason: reason },
  });
  return result.count;
}

/** Logout: revokes the family of the presented token. Unknown tokens are fine (idempotent). */
export function logoutFamily(prisma: AuthPrisma, options: { presentedHash: string; origin: RequestOrigin }) {
  return inTransaction(prisma, async (transaction) => {
    // Family and owner of a token never change, so reading them before the lock is safe.
    const known = await transaction.refreshToken.findUnique({ where: { tokenHash: options.presentedHash } });
    if (!known) return;
    await lockFamily(transaction, known.familyId);
    const revokedCount = await revokeFamily(transaction, known.familyId, 'logout');
    if (revokedCount === 0) return;
    await writeAudit(transaction, options.origin, {
      action: 'logout',
      actorUserId: known.userId,
      targetId: known.familyId,
      metadata: { tokens_revoked: revokedCount },
    });
  });
}

/**
 * Deletes up to `batchSize` refresh tokens that expired more than `graceMs` ago and returns how
 * many went (Prisma's deleteMany has no limit, hence the sub-select). The grace keeps a token that
 * is replayed shortly after expiry known, so a rotated one is still answered as reused and its
 * family revoked; after the grace an expired token is refused either way. The cutoff uses the
 * database clock, like the `expires_at > now()` check of rotation. SKIP LOCKED leaves rows that a
 * rotation or revocation holds to a later batch, so replicas never wait on each other here.
 */
export async function deleteExpiredRefreshTokens(
  prisma: AuthPrisma,
  options: { graceMs: number; batchSize: number },
): Promise<number> {
  assert(Number.isFinite(options.graceMs) && options.graceMs >= 0, 'graceMs must be >= 0');
  assert(
    Number.isSafeInteger(options.batchSize) && options.batchSize > 0,
    'batchSize must be a positive integer',
  );
  return prisma.$executeRaw`
    DELETE FROM refresh_tokens WHERE id IN (
      SELECT id FROM refresh_tokens
      WHERE expires_at < now() - ${options.graceMs}::double precision * interval '1 millisecond'
      LIMIT ${options.batchSize}::integer FOR UPDATE SKIP LOCKED)`;
}
