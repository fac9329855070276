import { randomBytes } from 'node:crypto';

/**
 * A UUID version 7: 48 bits of Unix milliseconds, then random bits. Ids made this way sort by
 * creation time, which cursor pagination relies on. We make user ids here because the DID
 * embeds the id and must be known before the row is written.
 */
export function uuidV7(nowMs: number = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(nowMs, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
