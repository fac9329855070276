import { codeOf } from '@zerostate/testkit';
import { describe, expect, it } from 'vitest';
import type { Balances } from './balances.js';
import {
  decideEscrowCapture,
  decideEscrowHold,
  decideEscrowRefund,
  type EscrowState,
} from './escrow-rules.js';

const payerDid = 'did:zerostate:user:payer';
const payeeDid = 'did:zerostate:user:payee';

function escrow(overrides: Partial<EscrowState> = {}): EscrowState {
  return {
    taskId: '0190a0e0-0000-7000-8000-000000000001',
    payerDid,
    amount: 400n,
    status: 'held',
    payeeDid: null,
    capturedAmount: null,
    returnedAmount: null,
    ...overrides,
  };
}

function payer(available: bigint): Balances {
  return { available, held: 0n, totalDeposited: available, totalWithdrawn: 0n };
}

describe('decideEscrowHold', () => {
  const request = { payerDid, amount: 400n };

  it('when the task has no escrow and the payer has the funds, then the amount moves from available to held', () => {
    const account = payer(400n);
    const decision = decideEscrowHold(null, account, request);
    expect(decision).toEqual({
      outcome: 'hold',
      payer: account,
      hold: { change: { available: -400n, held: 400n }, refusal: 'INSUFFICIENT_FUNDS' },
    });
  });

  it('when the payer has no account or too little available, then INSUFFICIENT_FUNDS', () => {
    expect(codeOf(() => decideEscrowHold(null, null, request))).toBe('INSUFFICIENT_FUNDS');
    expect(codeOf(() => decideEscrowHold(null, payer(399n), request))).toBe('INSUFFICIENT_FUNDS');
  });

  it('when the task already holds an escrow with the same terms, then the hold replays it, funds or not', () => {
    const existing = escrow();
    expect(decideEscrowHold(existing, payer(0n), request)).toEqual({ outcome: 'replay', escrow: existing });
    const captured = escrow({ status: 'captured', payeeDid, capturedAmount: 400n, returnedAmount: 0n });
    expect(decideEscrowHold(captured, payer(0n), request)).toEqual({ outcome: 'replay', escrow: captured });
  });

  it('when the task already holds an escrow with another payer or amount, then ESCROW_CONFLICT', () => {
    const rich = payer(10_000n);
    expect(codeOf(() => decideEscrowHold(escrow({ amount: 401n }), rich, request))).toBe('ESCROW_CONFLICT');
    expect(
      codeOf(() => decideEscrowHold(escrow({ payerDid: 'did:zerostate:user:other' }), rich, request)),
    ).toBe('ESCROW_CONFLICT');
  });

  it('when the payer has no account, then INSUFFICIENT_FUNDS comes before any conflict', () => {
    expect(codeOf(() => decideEscrowHold(escrow({ amount: 1n }), null, request))).toBe('INSUFFICIENT_FUNDS');
  });
});

describe('decideEscrowCapture', () => {
  it('when part of a hold is captured, then the payee is credited the price and the rest returns to the payer', () => {
    const held = escrow();
    const decision = decideEscrowCapture(held, { payeeDid, price: 300n });
    expect(decision).toEqual({
      outcome: 'settle',
      escrow: held,
      settlement: {
        status: 'captured',
        payeeDid,
        capturedAmount: 300n,
        returnedAmount: 100n,
        payerChange: { held: -400n, available: 100n },
        payeeCredit: { change: { available: 300n }, refusal: 'ACCOUNT_LIMIT_EXCEEDED' },
        transfers: [
          { kind: 'escrow_capture', amount: 300n, to: 'payee' },
          { kind: 'escrow_return', amount: 100n, to: 'payer' },
        ],
      },
    });
  });

  it('when the price is the whole hold, then only the capture transfer is made', () => {
    const decision = decideEscrowCapture(escrow(), { payeeDid, price: 400n });
    expect(decision.outcome === 'settle' && decision.settlement.transfers).toEqual([
      { kind: 'escrow_capture', amount: 400n, to: 'payee' },
    ]);
  });

  it('when the price is 0, then the whole hold returns to the payer and the payee needs no account', () => {
    const decision = decideEscrowCapture(escrow(), { payeeDid, price: 0n });
    expect(decision.outcome === 'settle' && decision.settlement).toMatchObject({
      capturedAmount: 0n,
      returnedAmount: 400n,
      payerChange: { held: -400n, available: 400n },
      payeeCredit: undefined,
      transfers: [{ kind: 'escrow_return', amount: 400n, to: 'payer' }],
    });
  });

  it('when the same capture comes again, then it replays', () => {
    const captured = escrow({ status: 'captured', payeeDid, capturedAmount: 300n, returnedAmount: 100n });
    expect(decideEscrowCapture(captured, { payeeDid, price: 300n })).toEqual({
      outcome: 'replay',
      escrow: captured,
    });
  });

  it('when a settled escrow is captured with other terms, then ESCROW_CONFLICT', () => {
    const captured = escrow({ status: 'captured', payeeDid, capturedAmount: 300n, returnedAmount: 100n });
    expect(codeOf(() => decideEscrowCapture(captured, { payeeDid, price: 200n }))).toBe('ESCROW_CONFLICT');
    expect(
      codeOf(() => decideEscrowCapture(captured, { payeeDid: 'did:zerostate:user:other', price: 300n })),
    ).toBe('ESCROW_CONFLICT');
    const refunded = escrow({ status: 'refunded', returnedAmount: 400n });
    expect(codeOf(() => decideEscrowCapture(refunded, { payeeDid, price: 0n }))).toBe('ESCROW_CONFLICT');
  });

  it('when the price exceeds the hold, then ESCROW_CONFLICT', () => {
    expect(codeOf(() => decideEscrowCapture(escrow(), { payeeDid, price: 401n }))).toBe('ESCROW_CONFLICT');
  });

  it('when the task has no escrow, then NOT_FOUND', () => {
    expect(codeOf(() => decideEscrowCapture(null, { payeeDid, price: 1n }))).toBe('NOT_FOUND');
  });
});

describe('decideEscrowRefund', () => {
  it('when a hold is refunded, then all of it returns from held to available in one transfer', () => {
    const held = escrow();
    expect(decideEscrowRefund(held)).toEqual({
      outcome: 'settle',
      escrow: held,
      settlement: {
        status: 'refunded',
        payeeDid: null,
        capturedAmount: null,
        returnedAmount: 400n,
        payerChange: { held: -400n, available: 400n },
        payeeCredit: undefined,
        transfers: [{ kind: 'escrow_refund', amount: 400n, to: 'payer' }],
      },
    });
  });

  it('when the escrow was already refunded, then the refund replays', () => {
    const refunded = escrow({ status: 'refunded', returnedAmount: 400n });
    expect(decideEscrowRefund(refunded)).toEqual({ outcome: 'replay', escrow: refunded });
  });

  it('when the escrow was captured, then ESCROW_CONFLICT; when there is none, NOT_FOUND', () => {
    const captured = escrow({ status: 'captured', payeeDid, capturedAmount: 1n, returnedAmount: 399n });
    expect(codeOf(() => decideEscrowRefund(captured))).toBe('ESCROW_CONFLICT');
    expect(codeOf(() => decideEscrowRefund(null))).toBe('NOT_FOUND');
  });
});
