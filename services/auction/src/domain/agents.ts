/**
 * Agent identity and search order (SPEC §4.3): pure rules, tested beside this file.
 */

const base58Alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Bitcoin base58 (the `z` multibase of did:key). */
export function base58btc(bytes: Uint8Array): string {
  let value = 0n;
  for (const byte of bytes) value = value * 256n + BigInt(byte);
  let text = '';
  while (value > 0n) {
    text = base58Alphabet[Number(value % 58n)]! + text;
    value /= 58n;
  }
  for (const byte of bytes) {
    if (byte !== 0) break;
    text = `1${text}`;
  }
  return text;
}

/** The did:key of an Ed25519 public key: multicodec 0xed 0x01, then the key, in base58btc. */
export function ed25519DidKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new Error('an Ed25519 public key has 32 bytes');
  return `did:key:z${base58btc(Uint8Array.from([0xed, 0x01, ...publicKey]))}`;
}

export function agentDid(options: { id: string; publicKey?: Uint8Array | undefined }): string {
  return options.publicKey ? ed25519DidKey(options.publicKey) : `did:zerostate:agent:${options.id}`;
}

/**
 * The match score search orders by, in ten-thousandths (seed weights): 0.30 reputation, 0.25
 * quality, 0.20 spare capacity, 0.15 response time, 0.10 region. Response times are not measured
 * yet, so every agent gets the neutral half of that term; region counts when the search asked
 * for one (then every result matches it). The same expression runs in SQL (`matchScoreSql`).
 */
export function matchScore(agent: {
  reputationHundredths: number;
  qualityHundredths: number;
  maxCapacity: number;
  currentLoad: number;
  regionRequested: boolean;
}): number {
  const spare = Math.floor(((agent.maxCapacity - agent.currentLoad) * 10_000) / agent.maxCapacity);
  return (
    (30 * agent.reputationHundredths +
      25 * agent.qualityHundredths +
      20 * spare +
      15 * 5_000 +
      (agent.regionRequested ? 10 * 10_000 : 0)) /
    100
  );
}
