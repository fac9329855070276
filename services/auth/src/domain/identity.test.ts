import { describe, expect, it } from 'vitest';
import { normalizeRoles, userDid, uuidV7 } from './identity.js';

describe('uuid v7', () => {
  it('when made, then it is a valid version-7 RFC 9562 uuid carrying the time', () => {
    const id = uuidV7(0x0123456789ab);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(id.startsWith('01234567-89ab-7')).toBe(true);
  });

  it('when made at later milliseconds, then ids sort by time', () => {
    const ids = [3, 1, 2].map((offset) => uuidV7(1_700_000_000_000 + offset));
    expect([...ids].sort()).toEqual([ids[1], ids[2], ids[0]]);
  });
});

describe('DIDs', () => {
  it('when a user id is given, then the DID is did:zerostate:user:<id>', () => {
    expect(userDid('0190b1c2-0000-7000-8000-000000000000')).toBe(
      'did:zerostate:user:0190b1c2-0000-7000-8000-000000000000',
    );
  });
});

describe('roles', () => {
  it('when roles repeat or come in any order, then they are deduplicated in contract order', () => {
    expect(normalizeRoles(['admin', 'user', 'admin'])).toEqual(['user', 'admin']);
  });
});
