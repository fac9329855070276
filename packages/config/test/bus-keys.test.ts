import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { busKeySettingsOf, deriveBusKey, parseSigningKeys, parseTrustedKeys } from '../src/index.js';

describe('the link keys of a deployment', () => {
  const secret = randomBytes(32);
  const services = [
    { bus: 'auth', calls: ['payment'] },
    { bus: 'payment', calls: [] },
    { bus: 'task', calls: ['payment'] },
  ];
  const settings = busKeySettingsOf(services, secret);

  it('when a service calls others, then it signs for exactly those and each callee trusts exactly its callers', () => {
    expect([...parseSigningKeys(settings.get('gateway')!.BUS_SIGNING_KEYS!).keys()].sort()).toEqual([
      'auth',
      'payment',
      'task',
    ]);
    expect([...parseSigningKeys(settings.get('auth')!.BUS_SIGNING_KEYS!).keys()]).toEqual(['payment']);
    expect(settings.get('payment')!.BUS_SIGNING_KEYS).toBeUndefined();
    expect([...parseTrustedKeys(settings.get('payment')!.BUS_TRUSTED_KEYS!).keys()].sort()).toEqual([
      'auth',
      'gateway',
      'task',
    ]);
    expect([...parseTrustedKeys(settings.get('auth')!.BUS_TRUSTED_KEYS!).keys()]).toEqual(['gateway']);
  });

  it('when two callers reach one callee, then their keys differ and match what the callee trusts', () => {
    const trusted = parseTrustedKeys(settings.get('payment')!.BUS_TRUSTED_KEYS!);
    const fromAuth = parseSigningKeys(settings.get('auth')!.BUS_SIGNING_KEYS!).get('payment')!;
    const fromTask = parseSigningKeys(settings.get('task')!.BUS_SIGNING_KEYS!).get('payment')!;
    expect(fromAuth.equals(fromTask)).toBe(false);
    expect(trusted.get('auth')![0]!.equals(fromAuth)).toBe(true);
    expect(trusted.get('task')![0]!.equals(fromTask)).toBe(true);
    expect(fromAuth.equals(Buffer.from(deriveBusKey(secret, 'auth', 'payment'), 'base64'))).toBe(true);
  });
});
