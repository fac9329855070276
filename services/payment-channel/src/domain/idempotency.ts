import { createHash } from 'node:crypto';

/**
 * What makes two requests "the same" for an Idempotency-Key: the endpoint and its validated
 * input (path parameters included). Keys are sorted, so field order in the body does not matter.
 */
export function requestFingerprint(endpoint: string, input: unknown): string {
  return createHash('sha256')
    .update(`${endpoint}\n${canonicalJson(input)}`)
    .digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
