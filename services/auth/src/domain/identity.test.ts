import { describe, expect, it } from 'vitest';
import { normalizeRoles, userDid } from './identity.js';

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
