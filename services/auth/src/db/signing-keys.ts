import { inTransaction, lockForTransaction } from '@zerostate/database';
import type { RequestOrigin } from '../domain/types.js';
import type { SigningKey as SigningKeyRow } from '../generated/prisma/client.js';
import { writeAudit } from './audit.js';
import type { AuthPrisma, JsonInput } from './prisma.js';

/** A public JWK as stored: an Ed25519 key (`kty: OKP`, `crv: Ed25519`, `x`). */
export interface PublicJwk {
  kty: string;
  crv?: string;
  x?: string;
}

export interface StoredSigningKey {
  kid: string;
  algorithm: string;
  publicJwk: PublicJwk;
  privateKeyEncrypted: string;
  createdAt: Date;
  retiredAt: Date | null;
  verifyUntil: Date | null;
}

export type NewSigningKey = Pick<StoredSigningKey, 'kid' | 'algorithm' | 'publicJwk' | 'privateKeyEncrypted'>;

const signingKeysLock = 'auth.signing-keys';

function toStoredSigningKey(row: SigningKeyRow): StoredSigningKey {
  return { ...row, publicJwk: row.publicJwk as unknown as PublicJwk };
}

export async function findActiveSigningKey(prisma: AuthPrisma): Promise<StoredSigningKey | undefined> {
  const row = await prisma.signingKey.findFirst({
    where: { retiredAt: null },
    orderBy: { createdAt: 'desc' },
  });
  return row ? toStoredSigningKey(row) : undefined;
}

/**
 * Stores the candidate only when no key is active. Several replicas booting at once each bring
 * a candidate; the lock lets exactly one of them win and the others adopt it.
 */
export function insertSigningKeyIfNoneActive(
  prisma: AuthPrisma,
  candidate: NewSigningKey,
): Promise<StoredSigningKey> {
  return inTransaction(prisma, async (transaction) => {
    await lockForTransaction(transaction, signingKeysLock);
    const active = await transaction.signingKey.findFirst({
      where: { retiredAt: null },
      orderBy: { createdAt: 'desc' },
    });
    if (active) return toStoredSigningKey(active);
    const row = await transaction.signingKey.create({
      data: { ...candidate, publicJwk: candidate.publicJwk as unknown as JsonInput },
    });
    return toStoredSigningKey(row);
  });
}

/** Makes the candidate the active key and retires the previous one(s) until `verifyUntil`. */
export function rotateSigningKeys(
  prisma: AuthPrisma,
  options: {
    candidate: NewSigningKey;
    retiredAt: Date;
    verifyUntil: Date;
    actorUserId: string;
    origin: RequestOrigin;
  },
): Promise<{ kid: string; retiredKids: string[] }> {
  return inTransaction(prisma, async (transaction) => {
    await lockForTransaction(transaction, signingKeysLock);
    const active = await transaction.signingKey.findMany({
      where: { retiredAt: null },
      select: { kid: true },
    });
    const retiredKids = active.map((key) => key.kid);
    await transaction.signingKey.updateMany({
      where: { kid: { in: retiredKids } },
      data: { retiredAt: options.retiredAt, verifyUntil: options.verifyUntil },
    });
    await transaction.signingKey.create({
      data: { ...options.candidate, publicJwk: options.candidate.publicJwk as unknown as JsonInput },
    });
    await writeAudit(transaction, options.origin, {
      action: 'signing_key_rotated',
      actorUserId: options.actorUserId,
      targetId: options.candidate.kid,
      metadata: { retired_kids: retiredKids, verify_until: options.verifyUntil.toISOString() },
    });
    return { kid: options.candidate.kid, retiredKids };
  });
}

/** The active key and every retired key that may still have live tokens, newest first. */
export async function listVerifiableSigningKeys(prisma: AuthPrisma, now: Date): Promise<StoredSigningKey[]> {
  const rows = await prisma.signingKey.findMany({
    where: { OR: [{ retiredAt: null }, { verifyUntil: { gt: now } }] },
    orderBy: { createdAt: 'desc' },
  });
  return rows.map(toStoredSigningKey);
}
