import { describe, expect, it } from 'vitest';
import { type ChannelState, closeRefusal, paymentRefusal, roleIn, settlementOf } from './channel-rules.js';

const expiresAt = new Date('2030-01-01T00:00:00.000Z');
const beforeExpiry = new Date('2029-12-31T23:59:59.999Z');
const afterExpiry = new Date('2030-01-01T00:00:00.001Z');

function channel(overrides: Partial<ChannelState> = {}): ChannelState {
  return {
    status: 'open',
    payerDid: 'did:zerostate:user:payer',
    payeeDid: 'did:zerostate:user:payee',
    deposit: 1_000n,
    paid: 300n,
    sequenceNumber: 4n,
    expiresAt,
    ...overrides,
  };
}

describe('roleIn', () => {
  it('when the DID is the payer, the payee or neither, then the role says so', () => {
    expect(roleIn(channel(), 'did:zerostate:user:payer')).toBe('payer');
    expect(roleIn(channel(), 'did:zerostate:user:payee')).toBe('payee');
    expect(roleIn(channel(), 'did:zerostate:user:someone')).toBe('none');
  });
});

describe('paymentRefusal', () => {
  it('when the sequence number is new and the amount rises within the deposit, then the payment is accepted', () => {
    expect(paymentRefusal(channel(), { amount: 301n, sequenceNumber: 5n }, beforeExpiry)).toBeUndefined();
    expect(paymentRefusal(channel(), { amount: 1_000n, sequenceNumber: 99n }, beforeExpiry)).toBeUndefined();
  });

  it('when the channel is closed or expired, then CHANNEL_CLOSED comes before every other reason', () => {
    const stale = { amount: 1n, sequenceNumber: 1n };
    expect(paymentRefusal(channel({ status: 'closed' }), stale, afterExpiry)).toBe('CHANNEL_CLOSED');
    expect(paymentRefusal(channel({ status: 'expired' }), stale, beforeExpiry)).toBe('CHANNEL_CLOSED');
  });

  it('when the expiry is reached, then CHANNEL_EXPIRED, even at the exact instant', () => {
    const good = { amount: 400n, sequenceNumber: 5n };
    expect(paymentRefusal(channel(), good, expiresAt)).toBe('CHANNEL_EXPIRED');
    expect(paymentRefusal(channel(), good, afterExpiry)).toBe('CHANNEL_EXPIRED');
  });

  it('when the sequence number equals or is below the last one, then STALE_SEQUENCE_NUMBER before any amount check', () => {
    expect(paymentRefusal(channel(), { amount: 400n, sequenceNumber: 4n }, beforeExpiry)).toBe(
      'STALE_SEQUENCE_NUMBER',
    );
    expect(paymentRefusal(channel(), { amount: 5_000n, sequenceNumber: 1n }, beforeExpiry)).toBe(
      'STALE_SEQUENCE_NUMBER',
    );
  });

  it('when the amount does not rise or exceeds the deposit, then CHANNEL_AMOUNT_INVALID', () => {
    const next = 5n;
    expect(paymentRefusal(channel(), { amount: 300n, sequenceNumber: next }, beforeExpiry)).toBe(
      'CHANNEL_AMOUNT_INVALID',
    );
    expect(paymentRefusal(channel(), { amount: 299n, sequenceNumber: next }, beforeExpiry)).toBe(
      'CHANNEL_AMOUNT_INVALID',
    );
    expect(paymentRefusal(channel(), { amount: 1_001n, sequenceNumber: next }, beforeExpiry)).toBe(
      'CHANNEL_AMOUNT_INVALID',
    );
  });
});

describe('closeRefusal', () => {
  it('when the payee closes before expiry, then it is allowed', () => {
    expect(closeRefusal(channel(), { role: 'payee', isOperator: false }, beforeExpiry)).toBeUndefined();
  });

  it('when the payer closes before expiry, then CHANNEL_NOT_EXPIRED; at or after expiry it is allowed', () => {
    const payer = { role: 'payer' as const, isOperator: false };
    expect(closeRefusal(channel(), payer, beforeExpiry)).toBe('CHANNEL_NOT_EXPIRED');
    expect(closeRefusal(channel(), payer, expiresAt)).toBeUndefined();
    expect(closeRefusal(channel(), payer, afterExpiry)).toBeUndefined();
  });

  it('when an operator who is not a party closes before expiry, then it is allowed', () => {
    expect(closeRefusal(channel(), { role: 'none', isOperator: true }, beforeExpiry)).toBeUndefined();
  });

  it('when a stranger closes, then NOT_FOUND, before and after expiry', () => {
    const stranger = { role: 'none' as const, isOperator: false };
    expect(closeRefusal(channel(), stranger, beforeExpiry)).toBe('NOT_FOUND');
    expect(closeRefusal(channel(), stranger, afterExpiry)).toBe('NOT_FOUND');
  });

  it('when the channel is no longer open, then CHANNEL_CLOSED for everyone', () => {
    for (const status of ['closed', 'expired'] as const) {
      expect(closeRefusal(channel({ status }), { role: 'payee', isOperator: false }, beforeExpiry)).toBe(
        'CHANNEL_CLOSED',
      );
      expect(closeRefusal(channel({ status }), { role: 'none', isOperator: true }, afterExpiry)).toBe(
        'CHANNEL_CLOSED',
      );
    }
  });
});

describe('settlementOf', () => {
  it('when a channel closes before expiry, then the payee gets what was paid, the payer the rest, status closed', () => {
    expect(settlementOf(channel(), beforeExpiry)).toEqual({
      settled: 300n,
      refunded: 700n,
      status: 'closed',
    });
  });

  it('when a channel closes at or after expiry, then the split is the same and the status is expired', () => {
    expect(settlementOf(channel(), expiresAt)).toEqual({ settled: 300n, refunded: 700n, status: 'expired' });
    expect(settlementOf(channel({ paid: 0n }), afterExpiry)).toEqual({
      settled: 0n,
      refunded: 1_000n,
      status: 'expired',
    });
  });
});
