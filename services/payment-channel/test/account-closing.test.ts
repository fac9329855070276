import { randomUUID } from 'node:crypto';
import { type Principal, paymentEndpoints } from '@zerostate/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escrowHelpers } from './escrow-helpers.js';
import {
  authService,
  credits,
  type Harness,
  scalar,
  startHarness,
  taskService,
  userPrincipal,
} from './harness.js';

/**
 * Closing an account when its owner erases their user account (auth calls account.close as
 * itself): only an empty account closes, and a closed one takes no money from anywhere, so
 * nothing is ever paid to an owner nobody can sign in as.
 */
let harness: Harness;
const escrow = escrowHelpers(() => harness);

beforeAll(async () => {
  harness = await startHarness({ name: 'payment_account_closing' });
});
afterAll(async () => harness?.stop());

const close = (owner: Principal) =>
  harness.call(paymentEndpoints.closeAccount, { owner_did: owner.did }, authService());
const closeFailure = (owner: Principal) =>
  harness.failure(paymentEndpoints.closeAccount, { owner_did: owner.did }, authService());
const accountState = async (owner: Principal) =>
  scalar(
    harness.db,
    "SELECT json_build_object('available', available, 'held', held, 'closed', closed_at IS NOT NULL)::text FROM accounts WHERE owner_did = $1",
    [owner.did],
  );

describe('closing an account', () => {
  it('when the account is empty, then it closes once and a second close answers the same moment', async () => {
    const owner = await harness.funded(credits(3));
    await harness.call(paymentEndpoints.withdraw, { amount: credits(3) }, owner);
    const first = await close(owner);
    const second = await close(owner);
    expect(second).toEqual(first);
    expect(JSON.parse(await accountState(owner))).toEqual({ available: 0, held: 0, closed: true });
    expect(
      await scalar(
        harness.db,
        "SELECT count(*) FROM outbox WHERE subject = $1 AND payload->>'owner_did' = $2",
        ['evt.payment.account.closed', owner.did],
      ),
    ).toBe('1');
  });

  it('when the owner never had an account, then a closed one is made so no money can arrive later', async () => {
    const owner = userPrincipal();
    await close(owner);
    expect(JSON.parse(await accountState(owner))).toEqual({ available: 0, held: 0, closed: true });
  });

  it('when money is available, held, or in an open channel either way, then it refuses and changes nothing', async () => {
    const withBalance = await harness.funded(credits(1));
    expect(await closeFailure(withBalance)).toBe('ACCOUNT_NOT_EMPTY');

    const { payer: withHold } = await escrow.held({ balance: credits(4), amount: credits(4) });
    expect(await closeFailure(withHold)).toBe('ACCOUNT_NOT_EMPTY');

    const payer = await harness.funded(credits(2));
    const payee = userPrincipal();
    await harness.call(paymentEndpoints.openChannel, { payee_did: payee.did, amount: credits(2) }, payer);
    expect(await closeFailure(payee)).toBe('ACCOUNT_NOT_EMPTY');
    expect(await closeFailure(payer)).toBe('ACCOUNT_NOT_EMPTY');

    for (const owner of [withBalance, withHold, payee, payer]) {
      expect(JSON.parse(await accountState(owner)).closed).toBe(false);
    }
    await harness.expectReconciled();
  });
});

describe('a closed account', () => {
  let closed: Principal;
  beforeAll(async () => {
    closed = userPrincipal();
    await close(closed);
  });

  it('when its owner deposits, then ACCOUNT_CLOSED; a withdrawal finds nothing to take', async () => {
    expect(await harness.failure(paymentEndpoints.deposit, { amount: credits(1) }, closed)).toBe(
      'ACCOUNT_CLOSED',
    );
    expect(await harness.failure(paymentEndpoints.withdraw, { amount: 1 }, closed)).toBe(
      'INSUFFICIENT_FUNDS',
    );
    expect(JSON.parse(await accountState(closed))).toEqual({ available: 0, held: 0, closed: true });
  });

  it('when someone opens a channel to it, then ACCOUNT_CLOSED and the payer keeps the money', async () => {
    const payer = await harness.funded(credits(5));
    const code = await harness.failure(
      paymentEndpoints.openChannel,
      { payee_did: closed.did, amount: credits(2) },
      payer,
    );
    expect(code).toBe('ACCOUNT_CLOSED');
    expect((await escrow.balanceOf(payer)).available).toBe(credits(5));
  });

  it('when an escrow capture would pay it, then ACCOUNT_CLOSED and the hold stays whole', async () => {
    const { taskId } = await escrow.held({ amount: credits(3) });
    const code = await harness.failure(
      paymentEndpoints.captureEscrow,
      { task_id: taskId, payee_did: closed.did, amount: credits(2) },
      taskService(),
    );
    expect(code).toBe('ACCOUNT_CLOSED');
    expect(await harness.transfersOf(taskId)).toEqual([{ kind: 'escrow_hold', amount: String(credits(3)) }]);
    await harness.expectReconciled();
  });
});

describe('a close racing with deposits', () => {
  it('when both run at once many times, then either the close or the deposit is refused and no closed account holds money', async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 25 }, async () => {
        const owner = userPrincipal();
        const [closing, depositing] = await Promise.allSettled([
          close(owner),
          harness.call(paymentEndpoints.deposit, { amount: credits(1) }, owner),
        ]);
        return { closing: closing.status, depositing: depositing.status };
      }),
    );
    for (const outcome of outcomes)
      expect(outcome.closing === 'fulfilled').not.toBe(outcome.depositing === 'fulfilled');
    expect(
      await scalar(
        harness.db,
        'SELECT count(*) FROM accounts WHERE closed_at IS NOT NULL AND (available > 0 OR held > 0)',
      ),
    ).toBe('0');
    await harness.expectReconciled();
  });
});

describe('who may close or export', () => {
  it('when a user (even an admin session) or the task service asks, then it is refused', async () => {
    const owner = userPrincipal();
    const admin = userPrincipal({ admin: true });
    expect(await harness.failure(paymentEndpoints.closeAccount, { owner_did: owner.did }, admin)).toBe(
      'FORBIDDEN',
    );
    expect(await harness.failure(paymentEndpoints.closeAccount, { owner_did: owner.did }, owner)).toBe(
      'FORBIDDEN',
    );
    expect(await harness.failure(paymentEndpoints.exportAccount, { owner_did: owner.did }, admin)).toBe(
      'FORBIDDEN',
    );
    expect(
      await harness.failure(paymentEndpoints.closeAccount, { owner_did: owner.did }, taskService()),
    ).toBe('CALLER_NOT_ALLOWED');
    expect(await scalar(harness.db, 'SELECT count(*) FROM accounts WHERE owner_did = $1', [owner.did])).toBe(
      '0',
    );
  });
});

describe('exporting an account', () => {
  it('when the owner has moved money, then the export holds the balance, every entry and the channels', async () => {
    const owner = await harness.funded(credits(7));
    await harness.call(paymentEndpoints.withdraw, { amount: credits(1) }, owner);
    const payee = userPrincipal();
    const channel = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: payee.did, amount: credits(2) },
      owner,
    );
    const exported = await harness.call(
      paymentEndpoints.exportAccount,
      { owner_did: owner.did },
      authService(),
    );
    expect(exported.balance).toMatchObject({
      available: credits(4),
      in_channels: credits(2),
      total_deposited: credits(7),
    });
    expect(exported.history.map((item) => item.kind)).toEqual(['channel_funding', 'withdrawal', 'deposit']);
    expect(exported.channels.map((item) => item.id)).toEqual([channel.id]);
    expect(exported).toMatchObject({ closed_at: null, truncated: false });

    const stranger = await harness.call(
      paymentEndpoints.exportAccount,
      { owner_did: `did:zerostate:user:${randomUUID()}` },
      authService(),
    );
    expect(stranger).toMatchObject({
      history: [],
      channels: [],
      truncated: false,
      balance: { available: 0 },
    });
  });
});
