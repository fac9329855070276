import { describe, expect, it } from 'vitest';
import { requestFingerprint } from './idempotency.js';

describe('requestFingerprint', () => {
  it('when a request is fingerprinted, then the fingerprint is 64 lowercase hex characters', () => {
    expect(requestFingerprint('deposit', { amount: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('when the same fields come in another order, then the fingerprint is the same', () => {
    const forward = requestFingerprint('channel.pay', { id: 'c', amount: 5, sequence_number: 2 });
    const backward = requestFingerprint('channel.pay', { sequence_number: 2, amount: 5, id: 'c' });
    expect(backward).toBe(forward);
  });

  it('when nested objects differ only in key order, then the fingerprint is the same', () => {
    expect(requestFingerprint('e', { outer: { b: 1, a: [{ y: 2, x: 1 }] } })).toBe(
      requestFingerprint('e', { outer: { a: [{ x: 1, y: 2 }], b: 1 } }),
    );
  });

  it('when a field is undefined, then it counts as absent', () => {
    expect(requestFingerprint('channel.pay', { id: 'c', signature: undefined })).toBe(
      requestFingerprint('channel.pay', { id: 'c' }),
    );
  });

  it('when a value, a field name or the endpoint differs, then the fingerprint differs', () => {
    const base = requestFingerprint('deposit', { amount: 100 });
    expect(requestFingerprint('deposit', { amount: 101 })).not.toBe(base);
    expect(requestFingerprint('deposit', { amounts: 100 })).not.toBe(base);
    expect(requestFingerprint('withdraw', { amount: 100 })).not.toBe(base);
    expect(requestFingerprint('deposit', { amount: '100' })).not.toBe(base);
  });

  it('when array elements are reordered, then the fingerprint differs', () => {
    expect(requestFingerprint('e', { list: [1, 2] })).not.toBe(requestFingerprint('e', { list: [2, 1] }));
  });
});
