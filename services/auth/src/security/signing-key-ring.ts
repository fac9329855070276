import { createPrivateKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { AuthPrisma } from '../db/prisma.js';
import {
  findActiveSigningKey,
  insertSigningKeyIfNoneActive,
  listVerifiableSigningKeys,
  type NewSigningKey,
  type PublicJwk,
  rotateSigningKeys,
  type StoredSigningKey,
} from '../db/signing-keys.js';
import { decryptSecret, encryptSecret } from '../domain/key-encryption.js';
import { newKeyId, verifyUntilOf } from '../domain/key-rules.js';
import type { RequestOrigin } from '../domain/types.js';

export const signingAlgorithm = 'EdDSA';

export interface ActiveSigningKey {
  kid: string;
  privateKey: KeyObject;
}

export type PublishedJwk = PublicJwk & { kid: string; alg: string; use: 'sig' };

export interface SigningKeyRing {
  /** Creates the first key when none is active; safe when several replicas start together. */
  ensureActiveKey(): Promise<void>;
  /** The key to sign with; re-read from the database at most every `refreshIntervalMs`. */
  activeKey(): Promise<ActiveSigningKey>;
  rotate(actorUserId: string, origin: RequestOrigin): Promise<{ kid: string; retiredKids: string[] }>;
  jwks(): Promise<{ keys: PublishedJwk[] }>;
}

const generateKeyPairAsync = promisify(generateKeyPair);

async function createCandidate(encryptionKey: Buffer): Promise<NewSigningKey> {
  const { publicKey, privateKey } = await generateKeyPairAsync('ed25519');
  const kid = newKeyId(new Date());
  const { kty, crv, x } = publicKey.export({ format: 'jwk' });
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    kid,
    algorithm: signingAlgorithm,
    publicJwk: { kty: kty ?? 'OKP', crv, x },
    privateKeyEncrypted: encryptSecret(pkcs8, encryptionKey, kid),
  };
}

function unlock(stored: StoredSigningKey, encryptionKey: Buffer): ActiveSigningKey {
  const der = decryptSecret(stored.privateKeyEncrypted, encryptionKey, stored.kid);
  return { kid: stored.kid, privateKey: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }) };
}

/**
 * Signing keys shared by every replica through the database. Each replica caches the active
 * key and re-reads which key is active every few seconds, so a rotation made on another replica
 * is picked up without a restart; retired keys stay in the JWKS until their tokens expire.
 */
export function createSigningKeyRing(options: {
  prisma: AuthPrisma;
  encryptionKey: Buffer;
  accessTokenTtlSeconds: number;
  refreshIntervalMs?: number;
}): SigningKeyRing {
  const refreshIntervalMs = options.refreshIntervalMs ?? 5_000;
  let cached: (ActiveSigningKey & { checkedAt: number }) | undefined;
  let reloading: Promise<ActiveSigningKey> | undefined;

  const adopt = (stored: StoredSigningKey): ActiveSigningKey => {
    const key = cached?.kid === stored.kid ? cached : unlock(stored, options.encryptionKey);
    cached = { ...key, checkedAt: Date.now() };
    return cached;
  };
  const ensureActiveKey = async (): Promise<ActiveSigningKey> => {
    const existing = await findActiveSigningKey(options.prisma);
    if (existing) return adopt(existing);
    return adopt(
      await insertSigningKeyIfNoneActive(options.prisma, await createCandidate(options.encryptionKey)),
    );
  };
  const activeKey = async (): Promise<ActiveSigningKey> => {
    if (cached && Date.now() - cached.checkedAt < refreshIntervalMs) return cached;
    // One reload at a time; concurrent callers share it.
    reloading ??= ensureActiveKey().finally(() => {
      reloading = undefined;
    });
    return reloading;
  };

  return {
    ensureActiveKey: async () => {
      await ensureActiveKey();
    },
    activeKey,
    rotate: async (actorUserId, origin) => {
      const candidate = await createCandidate(options.encryptionKey);
      const retiredAt = new Date();
      const verifyUntil = verifyUntilOf(retiredAt, options.accessTokenTtlSeconds);
      const result = await rotateSigningKeys(options.prisma, {
        candidate,
        retiredAt,
        verifyUntil,
        actorUserId,
        origin,
      });
      cached = undefined;
      await activeKey();
      return result;
    },
    jwks: async () => {
      const keys = await listVerifiableSigningKeys(options.prisma, new Date());
      return {
        keys: keys.map((key) => ({
          ...key.publicJwk,
          kid: key.kid,
          alg: key.algorithm,
          use: 'sig' as const,
        })),
      };
    },
  };
}
