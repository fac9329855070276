import { createHmac, randomBytes } from 'node:crypto';

/**
 * The keys of signed principals on the bus (see @zerostate/bus principal tokens), as settings
 * carry them. Every key is 32 random bytes, base64, shared by exactly one caller and one callee:
 *
 * - `BUS_SIGNING_KEYS` (a caller: the gateway, or a service calling others as itself):
 *   `<callee bus name>=<key>` entries, one per service it calls.
 * - `BUS_TRUSTED_KEYS` (a callee: every service): `<caller>=<key>` entries, one per caller it
 *   obeys (`gateway`, or a service's bus name); a caller may appear twice while its key rotates.
 *
 * Pairwise keys mean a service only ever holds the keys of its own links: it can forge nothing
 * towards another service. `deriveBusKey` makes the pairs from one deployment secret.
 */

const keyBytes = 32;
const namePattern = /^[a-z][a-z0-9-]*$/;

/** A fresh link key (32 random bytes, base64). */
export function generateBusKey(): string {
  return randomBytes(keyBytes).toString('base64');
}

/**
 * The key of the link `caller → callee` derived from one deployment secret (HMAC-SHA256), so
 * `pnpm start`, the test stacks and a deployment script can hand each process only its own
 * links without storing a table of keys.
 */
export function deriveBusKey(secret: Buffer, caller: string, callee: string): string {
  return createHmac('sha256', secret).update(`zerostate-bus:v1:${caller}->${callee}`).digest('base64');
}

function parseEntries(text: string, setting: string): [string, Buffer][] {
  const entries = text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((entry): [string, Buffer] => {
      const separator = entry.indexOf('=');
      const name = entry.slice(0, separator).trim();
      if (separator <= 0 || !namePattern.test(name))
        throw new Error(`${setting} entries must read <name>=<key>`);
      const key = Buffer.from(entry.slice(separator + 1).trim(), 'base64');
      if (key.length !== keyBytes)
        throw new Error(`${setting}: the key of ${name} must be ${keyBytes} bytes, base64`);
      return [name, key];
    });
  if (entries.length === 0) throw new Error(`${setting} must name at least one link`);
  return entries;
}

/** Reads `BUS_SIGNING_KEYS`: the key for each callee; throws naming the setting, never the value. */
export function parseSigningKeys(text: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const [callee, key] of parseEntries(text, 'BUS_SIGNING_KEYS')) {
    if (keys.has(callee)) throw new Error(`BUS_SIGNING_KEYS names ${callee} twice`);
    keys.set(callee, key);
  }
  return keys;
}

/** Reads `BUS_TRUSTED_KEYS`: the keys of each caller (two while rotating). */
export function parseTrustedKeys(text: string): Map<string, Buffer[]> {
  const keys = new Map<string, Buffer[]>();
  for (const [caller, key] of parseEntries(text, 'BUS_TRUSTED_KEYS'))
    keys.set(caller, [...(keys.get(caller) ?? []), key]);
  return keys;
}

/** The bus settings of one process: the keys it verifies callers with, and signs its calls with. */
export interface BusKeySettings {
  BUS_TRUSTED_KEYS?: string;
  BUS_SIGNING_KEYS?: string;
}

/**
 * Every process's link keys for a deployment whose links are derived from `secret`: the gateway
 * calls every service; a service calls those its manifest lists in `calls`. A callee trusts the
 * keys of exactly its callers, a caller holds the keys of exactly its callees, so no process can
 * sign for a link it is not part of. Keyed by bus name, plus `gateway`.
 */
export function busKeySettingsOf(
  services: readonly { bus: string; calls: readonly string[] }[],
  secret: Buffer,
): Map<string, BusKeySettings> {
  const callers = new Map<string, string[]>(services.map((service) => [service.bus, ['gateway']]));
  for (const service of services) for (const callee of service.calls) callers.get(callee)?.push(service.bus);
  const keysOf = (caller: string, callees: readonly string[]) =>
    callees.map((callee) => `${callee}=${deriveBusKey(secret, caller, callee)}`).join(',');
  const settings = new Map<string, BusKeySettings>();
  settings.set('gateway', {
    BUS_SIGNING_KEYS: keysOf(
      'gateway',
      services.map((service) => service.bus),
    ),
  });
  for (const service of services) {
    const trusted = (callers.get(service.bus) ?? [])
      .map((caller) => `${caller}=${deriveBusKey(secret, caller, service.bus)}`)
      .join(',');
    settings.set(service.bus, {
      BUS_TRUSTED_KEYS: trusted,
      ...(service.calls.length > 0 ? { BUS_SIGNING_KEYS: keysOf(service.bus, service.calls) } : {}),
    });
  }
  return settings;
}
