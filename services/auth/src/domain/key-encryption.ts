import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const algorithm = 'aes-256-gcm';
const version = 'v1';

/**
 * Encrypts a signing private key for storage with AES-256-GCM. `associatedData` (the key id)
 * is authenticated but not encrypted, so a ciphertext copied onto another row fails to decrypt.
 * Format: `v1.<iv>.<tag>.<ciphertext>`, each part base64url.
 */
export function encryptSecret(plaintext: Buffer, encryptionKey: Buffer, associatedData: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv(algorithm, encryptionKey, iv);
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return [version, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

/** Throws when the text was altered, belongs to another key id, or was made with another key. */
export function decryptSecret(encrypted: string, encryptionKey: Buffer, associatedData: string): Buffer {
  const [partVersion, iv, tag, ciphertext, ...rest] = encrypted.split('.');
  if (
    partVersion !== version ||
    iv === undefined ||
    tag === undefined ||
    ciphertext === undefined ||
    rest.length
  ) {
    throw new Error('unrecognised encrypted secret format');
  }
  const decipher = createDecipheriv(algorithm, encryptionKey, Buffer.from(iv, 'base64url'));
  decipher.setAAD(Buffer.from(associatedData, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
}
