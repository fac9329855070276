import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

/**
 * The keys of signed principals on the bus (see @zerostate/bus principal tokens), as settings
 * carry them: `BUS_SIGNING_KEY` a signer's Ed25519 private key (PKCS8 DER, base64),
 * `BUS_TRUSTED_KEYS` the public keys a service accepts, `issuer=<SPKI DER, base64>` entries.
 */

/** A new Ed25519 key pair as the settings carry it: PKCS8 and SPKI DER, base64. */
export function generateBusKeyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  };
}

/** Reads `BUS_SIGNING_KEY` (an Ed25519 private key, PKCS8 DER base64); throws naming the setting. */
export function parseSigningKey(text: string): KeyObject {
  try {
    const key = createPrivateKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'pkcs8' });
    if (key.asymmetricKeyType === 'ed25519') return key;
  } catch {
    // Reported below without echoing the value.
  }
  throw new Error('BUS_SIGNING_KEY must be an Ed25519 private key (PKCS8 DER, base64)');
}

/**
 * Reads `BUS_TRUSTED_KEYS`: `issuer=<Ed25519 public key, SPKI DER base64>` entries, comma
 * separated; an issuer may appear twice while its key rotates.
 */
export function parseTrustedKeys(text: string): Map<string, KeyObject[]> {
  const trusted = new Map<string, KeyObject[]>();
  for (const entry of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const separator = entry.indexOf('=');
    const issuer = entry.slice(0, separator).trim();
    if (separator <= 0 || !/^[a-z][a-z0-9-]*$/.test(issuer)) {
      throw new Error('BUS_TRUSTED_KEYS entries must read issuer=<public key>');
    }
    let key: KeyObject;
    try {
      key = createPublicKey({
        key: Buffer.from(entry.slice(separator + 1), 'base64'),
        format: 'der',
        type: 'spki',
      });
    } catch {
      throw new Error(`BUS_TRUSTED_KEYS: the key of ${issuer} is not an SPKI DER public key (base64)`);
    }
    if (key.asymmetricKeyType !== 'ed25519')
      throw new Error(`BUS_TRUSTED_KEYS: the key of ${issuer} is not Ed25519`);
    trusted.set(issuer, [...(trusted.get(issuer) ?? []), key]);
  }
  if (trusted.size === 0) throw new Error('BUS_TRUSTED_KEYS must name at least one issuer');
  return trusted;
}
