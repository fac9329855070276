import { describe, expect, it } from 'vitest';
import { clientAddressKey } from '../src/middleware/index.js';

describe('clientAddressKey', () => {
  it('when the address is IPv4, then the key is that address', () => {
    expect(clientAddressKey('203.0.113.7')).toBe('ip:203.0.113.7');
  });

  it('when the address is IPv4-mapped IPv6, then it is keyed as plain IPv4', () => {
    expect(clientAddressKey('::ffff:203.0.113.7')).toBe('ip:203.0.113.7');
  });

  it('when two IPv6 addresses share a /64, then they share one key', () => {
    const first = clientAddressKey('2001:db8:1:2::1');
    expect(first).toBe('ip:2001:db8:1:2::/64');
    expect(clientAddressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe(first);
    expect(clientAddressKey('2001:db8:1:2:0:0:0:ab%eth0')).toBe(first);
  });

  it('when IPv6 addresses are in different /64s, then their keys differ', () => {
    expect(clientAddressKey('2001:db8:1:3::1')).not.toBe(clientAddressKey('2001:db8:1:2::1'));
  });

  it('when the address is compressed at the front, then the zero groups are expanded', () => {
    expect(clientAddressKey('::1')).toBe('ip:0:0:0:0::/64');
    expect(clientAddressKey('::ffff:1:2:3:4')).toBe('ip:0:0:0:ffff::/64');
  });

  it('when the address is unknown, then all such callers share one key', () => {
    expect(clientAddressKey(undefined)).toBe('ip:unknown');
    expect(clientAddressKey('')).toBe('ip:unknown');
  });
});
