import type { AppError } from '@zerostate/errors';
import { codeOf } from '@zerostate/testkit';
import { describe, expect, it } from 'vitest';
import {
  type ChannelState,
  closeRefusal,
  decideChannelClose,
  decideChannelOpen,
  decideChannelPayment,
  decideExpirySettlement,
  expirySweepCutoff,
  openChannelsPerPayerMax,
  paymentRefusal,
  requireRoomForChannel,
  requireVisibleChannel,
  roleIn,
  settlementOf,
} from './channel-rules.js';

const expiresAt = new Date('2030-01-01T00:00:00.000Z');
const beforeExpiry = new Date('2029-12-31T23:59:59.999Z');
const afterExpiry = new Date('2030-01-01T00:00:00.001Z');

const payer = 'did:zerostate:user:payer';
const payee = 'did:zerostate:user:payee';
const stranger = 'did:zerostate:user:someone';

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
  it('when a channel closes before expiry, then the payee is credited what was paid, the payer the rest, status closed', () => {
    const settlement = settlementOf(channel(), beforeExpiry);
    expect(settlement).toMatchObject({ settled: 300n, refunded: 700n, status: 'closed' });
    expect(settlement.credits).toEqual([
      {
        kind: 'channel_settlement',
        to: 'payee',
        amount: 300n,
        credit: { change: { available: 300n }, refusal: 'ACCOUNT_LIMIT_EXCEEDED' },
      },
      {
        kind: 'channel_refund',
        to: 'payer',
        amount: 700n,
        credit: { change: { available: 700n }, refusal: 'ACCOUNT_LIMIT_EXCEEDED' },
      },
    ]);
  });

  it('when a channel closes at or after expiry, then the split is the same and the status is expired', () => {
    expect(settlementOf(channel(), expiresAt)).toMatchObject({
      settled: 300n,
      refunded: 700n,
      status: 'expired',
    });
    expect(settlementOf(channel(), afterExpiry).status).toBe('expired');
  });

  it('when nothing was paid or everything was, then only the credit that moves money is made', () => {
    const unpaid = settlementOf(channel({ paid: 0n }), afterExpiry);
    expect(unpaid).toMatchObject({ settled: 0n, refunded: 1_000n });
    expect(unpaid.credits.map((credit) => [credit.to, credit.amount])).toEqual([['payer', 1_000n]]);
    const spent = settlementOf(channel({ paid: 1_000n }), beforeExpiry);
    expect(spent.credits.map((credit) => [credit.to, credit.amount])).toEqual([['payee', 1_000n]]);
  });
});

describe('decideChannelOpen', () => {
  const now = new Date('2030-01-01T00:00:00.000Z');

  it('when a payer opens a channel to another DID, then the deposit leaves available and it expires in 24 hours', () => {
    const opening = decideChannelOpen({ payerDid: payer, payeeDid: payee, deposit: 500n }, now);
    expect(opening.expiresAt).toEqual(new Date('2030-01-02T00:00:00.000Z'));
    expect(opening.funding).toEqual({ change: { available: -500n }, refusal: 'INSUFFICIENT_FUNDS' });
  });

  it('when the payer asks for a lifetime, then the channel expires that many seconds from now', () => {
    const opening = decideChannelOpen(
      { payerDid: payer, payeeDid: payee, deposit: 1n, lifetimeSeconds: 60 },
      now,
    );
    expect(opening.expiresAt).toEqual(new Date('2030-01-01T00:01:00.000Z'));
  });

  it('when the payee is the payer, then VALIDATION_FAILED names payee_did', () => {
    const error = (() => {
      try {
        decideChannelOpen({ payerDid: payer, payeeDid: payer, deposit: 1n }, now);
      } catch (caught) {
        return caught as AppError;
      }
    })();
    expect(error?.code).toBe('VALIDATION_FAILED');
    expect(error?.details).toEqual([
      { path: 'payee_did', code: 'custom', message: 'must differ from the payer' },
    ]);
  });
});

describe('requireRoomForChannel', () => {
  it('when the payer keeps fewer than the most open channels, then another may open; at the cap, CONFLICT', () => {
    expect(codeOf(() => requireRoomForChannel(0))).toBe('none');
    expect(codeOf(() => requireRoomForChannel(openChannelsPerPayerMax - 1))).toBe('none');
    expect(codeOf(() => requireRoomForChannel(openChannelsPerPayerMax))).toBe('CONFLICT');
  });
});

describe('requireVisibleChannel', () => {
  it('when a party or an operator looks, then the channel and their role come back', () => {
    expect(requireVisibleChannel(channel(), { did: payer, isOperator: false }).role).toBe('payer');
    expect(requireVisibleChannel(channel(), { did: payee, isOperator: false }).role).toBe('payee');
    expect(requireVisibleChannel(channel(), { did: stranger, isOperator: true }).role).toBe('none');
  });

  it('when a stranger looks or there is no channel, then NOT_FOUND', () => {
    expect(codeOf(() => requireVisibleChannel(channel(), { did: stranger, isOperator: false }))).toBe(
      'NOT_FOUND',
    );
    expect(codeOf(() => requireVisibleChannel(null, { did: payer, isOperator: true }))).toBe('NOT_FOUND');
  });
});

describe('decideChannelPayment', () => {
  const good = { amount: 400n, sequenceNumber: 5n };

  it('when the payer pays more under a new sequence number, then the channel takes the new amount and number', () => {
    expect(decideChannelPayment(channel(), payer, good, beforeExpiry)).toEqual({
      paid: 400n,
      sequenceNumber: 5n,
    });
  });

  it('when there is no channel, or the caller is not a party (even an operator), then NOT_FOUND', () => {
    expect(codeOf(() => decideChannelPayment(null, payer, good, beforeExpiry))).toBe('NOT_FOUND');
    expect(codeOf(() => decideChannelPayment(channel(), stranger, good, beforeExpiry))).toBe('NOT_FOUND');
  });

  it('when the payee pays, then FORBIDDEN, even on a closed channel', () => {
    expect(codeOf(() => decideChannelPayment(channel(), payee, good, beforeExpiry))).toBe('FORBIDDEN');
    expect(codeOf(() => decideChannelPayment(channel({ status: 'closed' }), payee, good, beforeExpiry))).toBe(
      'FORBIDDEN',
    );
  });

  it('when the payer pays but paymentRefusal objects, then its code', () => {
    expect(
      codeOf(() => decideChannelPayment(channel({ status: 'expired' }), payer, good, beforeExpiry)),
    ).toBe('CHANNEL_CLOSED');
    expect(codeOf(() => decideChannelPayment(channel(), payer, good, expiresAt))).toBe('CHANNEL_EXPIRED');
    expect(
      codeOf(() =>
        decideChannelPayment(channel(), payer, { amount: 400n, sequenceNumber: 4n }, beforeExpiry),
      ),
    ).toBe('STALE_SEQUENCE_NUMBER');
    expect(
      codeOf(() =>
        decideChannelPayment(channel(), payer, { amount: 1_001n, sequenceNumber: 5n }, beforeExpiry),
      ),
    ).toBe('CHANNEL_AMOUNT_INVALID');
  });
});

describe('decideChannelClose', () => {
  it('when the payee closes, then the settlement comes back with the channel and the role', () => {
    const open = channel();
    const decision = decideChannelClose(open, { did: payee, isOperator: false }, beforeExpiry);
    expect(decision.channel).toBe(open);
    expect(decision.role).toBe('payee');
    expect(decision.settlement).toEqual(settlementOf(open, beforeExpiry));
  });

  it('when an operator who is no party force-closes, then the role is none and the split the same', () => {
    const decision = decideChannelClose(channel(), { did: stranger, isOperator: true }, beforeExpiry);
    expect(decision.role).toBe('none');
    expect(decision.settlement).toMatchObject({ settled: 300n, refunded: 700n, status: 'closed' });
  });

  it('when a stranger closes, then NOT_FOUND before anything else, even on a closed channel', () => {
    const closer = { did: stranger, isOperator: false };
    expect(codeOf(() => decideChannelClose(channel({ status: 'closed' }), closer, afterExpiry))).toBe(
      'NOT_FOUND',
    );
    expect(codeOf(() => decideChannelClose(null, { did: payee, isOperator: true }, afterExpiry))).toBe(
      'NOT_FOUND',
    );
  });

  it('when the payer closes early or anyone closes a closed channel, then closeRefusal decides', () => {
    expect(codeOf(() => decideChannelClose(channel(), { did: payer, isOperator: false }, beforeExpiry))).toBe(
      'CHANNEL_NOT_EXPIRED',
    );
    expect(codeOf(() => decideChannelClose(channel(), { did: payer, isOperator: false }, expiresAt))).toBe(
      'none',
    );
    expect(
      codeOf(() =>
        decideChannelClose(channel({ status: 'expired' }), { did: payee, isOperator: false }, beforeExpiry),
      ),
    ).toBe('CHANNEL_CLOSED');
  });
});

describe('expiry sweep', () => {
  const graceMs = 60_000;

  it('when the cutoff is computed, then it lies the grace before now', () => {
    expect(expirySweepCutoff(new Date('2030-01-01T00:10:00.000Z'), graceMs)).toEqual(
      new Date('2030-01-01T00:09:00.000Z'),
    );
  });

  it('when an open channel expired more than the grace ago, then it settles as expired', () => {
    const past = new Date(expiresAt.getTime() + graceMs + 1);
    expect(decideExpirySettlement(channel(), past, graceMs)).toMatchObject({
      status: 'expired',
      settled: 300n,
      refunded: 700n,
    });
  });

  it('when a channel is within its grace or already closed, then settling it is a broken invariant', () => {
    const withinGrace = new Date(expiresAt.getTime() + graceMs);
    expect(() => decideExpirySettlement(channel(), withinGrace, graceMs)).toThrow(/past their expiry/);
    const late = new Date(expiresAt.getTime() + graceMs + 1);
    expect(() => decideExpirySettlement(channel({ status: 'closed' }), late, graceMs)).toThrow(
      /past their expiry/,
    );
  });
});
