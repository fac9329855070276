import { randomUUID } from 'node:crypto';
import { type Principal, paymentEndpoints } from '@zerostate/contracts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { credits, type Harness, scalar, startHarness, taskService, userPrincipal } from './harness.js';

/** An API key of a user with these roles: what the gateway forwards for `X-API-Key`. */
function apiKeyOf(owner: Principal): Principal {
  return { ...owner, kind: 'api_key', scopes: ['payments:read', 'payments:write'], api_key_id: randomUUID() };
}

describe('operators and API keys', () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ name: 'payment_access' });
  });
  afterAll(async () => harness?.stop());
  afterEach(async () => harness.expectReconciled());

  it('when an API key (even an admin one) or a system user session calls escrow, then it is refused and nothing is held', async () => {
    const payer = await harness.funded(credits(5));
    const taskId = randomUUID();
    const key = apiKeyOf(userPrincipal({ admin: true }));
    const systemUser: Principal = { ...userPrincipal(), is_system: true };
    for (const caller of [key, systemUser]) {
      expect(
        await harness.failure(
          paymentEndpoints.holdEscrow,
          { task_id: taskId, payer_did: payer.did, amount: 1 },
          caller,
        ),
      ).toBe('FORBIDDEN');
    }
    expect(await scalar(harness.db, 'SELECT count(*) FROM escrows WHERE task_id = $1', [taskId])).toBe('0');
    await harness.call(
      paymentEndpoints.holdEscrow,
      { task_id: taskId, payer_did: payer.did, amount: 1 },
      taskService(),
    );
    for (const caller of [key, systemUser]) {
      expect(
        await harness.failure(
          paymentEndpoints.captureEscrow,
          { task_id: taskId, payee_did: payer.did, amount: 1 },
          caller,
        ),
      ).toBe('FORBIDDEN');
      expect(await harness.failure(paymentEndpoints.refundEscrow, { task_id: taskId }, caller)).toBe(
        'FORBIDDEN',
      );
    }
    expect(await scalar(harness.db, 'SELECT status FROM escrows WHERE task_id = $1', [taskId])).toBe('held');
  });

  it("when an admin uses an API key, then it cannot read another's balance or force-close another's channel", async () => {
    const payer = await harness.funded(credits(5));
    const payee = userPrincipal();
    const channel = await harness.call(
      paymentEndpoints.openChannel,
      { payee_did: payee.did, amount: 10 },
      payer,
    );
    const adminKey = apiKeyOf(userPrincipal({ admin: true }));
    expect(await harness.failure(paymentEndpoints.balance, { owner_did: payer.did }, adminKey)).toBe(
      'NOT_FOUND',
    );
    expect(await harness.failure(paymentEndpoints.getChannel, { id: channel.id }, adminKey)).toBe(
      'NOT_FOUND',
    );
    expect(await harness.failure(paymentEndpoints.closeChannel, { id: channel.id }, adminKey)).toBe(
      'NOT_FOUND',
    );
    expect((await harness.call(paymentEndpoints.getChannel, { id: channel.id }, payer)).status).toBe('open');
    // The same admin signed in may.
    const adminSession = userPrincipal({ admin: true });
    expect(
      (await harness.call(paymentEndpoints.balance, { owner_did: payer.did }, adminSession)).available,
    ).toBe(credits(5) - 10);
  });

  it('when a DID is not in a form the platform issues, then VALIDATION_FAILED and no account is made', async () => {
    const payer = await harness.funded(credits(1));
    const shouting = `did:zerostate:user:${randomUUID().toUpperCase()}`;
    const refused = [shouting, 'did:example:123456', 'did:zerostate:user:not-a-uuid'];
    for (const payee of refused) {
      expect(
        await harness.failure(paymentEndpoints.openChannel, { payee_did: payee, amount: 1 }, payer),
      ).toBe('VALIDATION_FAILED');
    }
    expect(
      await scalar(harness.db, 'SELECT count(*) FROM accounts WHERE owner_did = ANY($1)', [refused]),
    ).toBe('0');
  });

  it('when the payee is an agent DID nobody can sign in as, then the channel or capture is refused so no money is stranded', async () => {
    const payer = await harness.funded(credits(1));
    const agents = [
      'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
      `did:zerostate:agent:${randomUUID()}`,
    ];
    const taskId = randomUUID();
    await harness.call(
      paymentEndpoints.holdEscrow,
      { task_id: taskId, payer_did: payer.did, amount: 10 },
      taskService(),
    );
    for (const agent of agents) {
      expect(
        await harness.failure(paymentEndpoints.openChannel, { payee_did: agent, amount: 1 }, payer),
      ).toBe('VALIDATION_FAILED');
      expect(
        await harness.failure(
          paymentEndpoints.captureEscrow,
          { task_id: taskId, payee_did: agent, amount: 5 },
          taskService(),
        ),
      ).toBe('VALIDATION_FAILED');
    }
    expect(
      await scalar(harness.db, 'SELECT count(*) FROM accounts WHERE owner_did = ANY($1)', [agents]),
    ).toBe('0');
    expect(await scalar(harness.db, 'SELECT status FROM escrows WHERE task_id = $1', [taskId])).toBe('held');
  });

  it('when statistics are asked from year 0000, then VALIDATION_FAILED rather than a database error', async () => {
    const admin = userPrincipal({ admin: true });
    expect(await harness.failure(paymentEndpoints.statistics, { from: '0000-01-01' }, admin)).toBe(
      'VALIDATION_FAILED',
    );
    expect(
      (await harness.call(paymentEndpoints.statistics, { from: '0001-01-01' }, admin)).items.length,
    ).toBeGreaterThan(0);
  });

  it('when a task id arrives in upper case, then the escrow and its transfers use one spelling and reconcile', async () => {
    const payer = await harness.funded(credits(2));
    const taskId = randomUUID();
    const system = taskService();
    const held = await harness.call(
      paymentEndpoints.holdEscrow,
      { task_id: taskId.toUpperCase(), payer_did: payer.did, amount: 10 },
      system,
    );
    expect(held.task_id).toBe(taskId);
    const captured = await harness.call(
      paymentEndpoints.captureEscrow,
      { task_id: taskId.toUpperCase(), payee_did: userPrincipal().did, amount: 4 },
      system,
    );
    expect(captured).toMatchObject({ task_id: taskId, status: 'captured', captured_amount: 4 });
    expect(
      await scalar(
        harness.db,
        'SELECT count(DISTINCT reference_id) FROM transfers WHERE lower(reference_id) = $1',
        [taskId],
      ),
    ).toBe('1');
  });
});
