import { authEvents, type Scope } from '@zerostate/contracts';
import { enqueueEvent, inTransaction, lockForTransaction } from '@zerostate/database';
import { liveApiKeysMax } from '../domain/key-rules.js';
import type { ApiKeyRecord, RequestOrigin } from '../domain/types.js';
import { writeAudit } from './audit.js';
import { toApiKeyRecord } from './mappers.js';
import type { AuthPrisma } from './prisma.js';

export interface NewApiKey {
  userId: string;
  name: string;
  scopes: Scope[];
  prefix: string;
  hash: string;
  expiresAt: Date | null;
}

/**
 * Stores a new key unless the user already holds the maximum of live keys. The per-user lock
 * makes count-then-insert atomic across concurrent requests and replicas.
 */
export function createApiKey(
  prisma: AuthPrisma,
  key: NewApiKey,
  origin: RequestOrigin,
): Promise<ApiKeyRecord | 'limit_reached'> {
  return inTransaction(prisma, async (transaction) => {
    await lockForTransaction(transaction, `auth.api-keys:${key.userId}`);
    const live = await transaction.apiKey.count({
      where: {
        userId: key.userId,
        revokedAt: null,
        OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }],
      },
    });
    if (live >= liveApiKeysMax) return 'limit_reached' as const;
    const row = await transaction.apiKey.create({
      data: {
        userId: key.userId,
        name: key.name,
        scopes: key.scopes,
        prefix: key.prefix,
        keyHash: key.hash,
        expiresAt: key.expiresAt,
      },
    });
    await writeAudit(transaction, origin, {
      action: 'api_key_created',
      actorUserId: key.userId,
      targetId: row.id,
      metadata: { prefix: row.prefix, scopes: row.scopes, expires_at: row.expiresAt?.toISOString() ?? null },
    });
    return toApiKeyRecord(row);
  });
}

/** Newest first; the cursor is the id of the last key of the previous page. */
export async function listApiKeys(
  prisma: AuthPrisma,
  options: { userId: string; limit: number; cursor: string | undefined },
): Promise<{ items: ApiKeyRecord[]; nextCursor: string | null }> {
  const rows = await prisma.apiKey.findMany({
    where: { userId: options.userId, ...(options.cursor ? { id: { lt: options.cursor } } : {}) },
    orderBy: { id: 'desc' },
    take: options.limit + 1,
  });
  const page = rows.slice(0, options.limit).map(toApiKeyRecord);
  return { items: page, nextCursor: rows.length > options.limit ? (page.at(-1)?.id ?? null) : null };
}

/**
 * Revokes a key of this user. Revoking an already revoked key succeeds without a second event;
 * another user's key is reported as not found, so ids cannot be probed.
 */
export function revokeApiKey(
  prisma: AuthPrisma,
  options: { userId: string; keyId: string; origin: RequestOrigin },
): Promise<'revoked' | 'already_revoked' | 'not_found'> {
  return inTransaction(prisma, async (transaction) => {
    const { count } = await transaction.apiKey.updateMany({
      where: { id: options.keyId, userId: options.userId, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    if (count === 0) {
      const exists = await transaction.apiKey.findFirst({
        where: { id: options.keyId, userId: options.userId },
        select: { id: true },
      });
      return exists ? 'already_revoked' : 'not_found';
    }
    await writeAudit(transaction, options.origin, {
      action: 'api_key_revoked',
      actorUserId: options.userId,
      targetId: options.keyId,
    });
    await enqueueEvent(transaction, authEvents.apiKeyRevoked, {
      api_key_id: options.keyId,
      user_id: options.userId,
    });
    return 'revoked' as const;
  });
}

export interface ApiKeyWithOwner {
  key: ApiKeyRecord;
  owner: { id: string; did: string; roles: string[]; isSystem: boolean; isActive: boolean };
}

export async function findApiKeyByHash(
  prisma: AuthPrisma,
  hash: string,
): Promise<ApiKeyWithOwner | undefined> {
  const row = await prisma.apiKey.findUnique({
    where: { keyHash: hash },
    include: { user: { select: { id: true, did: true, roles: true, isSystem: true, isActive: true } } },
  });
  if (!row) return undefined;
  const { user, ...key } = row;
  return { key: toApiKeyRecord(key), owner: user };
}

/** Conditional, so replicas racing on one busy key write at most once a minute. */
export async function recordApiKeyUse(prisma: AuthPrisma, keyId: string): Promise<void> {
  await prisma.$executeRaw`
    UPDATE api_keys SET last_used_at = now()
    WHERE id = ${keyId}::uuid AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')`;
}
