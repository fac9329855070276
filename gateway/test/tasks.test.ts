import { randomUUID } from 'node:crypto';
import { type RunningStack, waitUntil } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { credit, marketplaceClient, startMarketplaceStack, type Task } from './support/marketplace.js';
import { type Caller, expectError } from './support/payments.js';

/**
 * The marketplace end to end over HTTP only (SPEC §4.5, §5b "Tasks"): every process of the stack,
 * a task's budget held in escrow, its auction, the award, the agent's work and the review, with
 * the money checked to the micro-credit and the ledger reconciled after each flow. The acceptance
 * window is 4 s here.
 */
let system: RunningStack;
const client = marketplaceClient(() => system);
let admin: Caller;
let owners: Caller[];
let agents: string[];

beforeAll(async () => {
  system = await startMarketplaceStack({
    TASK_ACCEPTANCE_WINDOW_SECONDS: '4',
    TASK_EVENTS_HEARTBEAT_MS: '300',
  });
  admin = await client.admin();
  owners = await Promise.all(['b', 'c', 'd'].map((name) => client.register(name)));
  agents = await Promise.all(owners.map((owner) => client.agentOf(owner)));
});
afterAll(async () => {
  await system?.stop();
});

/** A requester with `amount` available. */
async function funded(amount = 100 * credit): Promise<Caller> {
  const requester = await client.register('requester');
  expect((await client.deposit(requester, amount)).status).toBe(201);
  return requester;
}

/** A task won by the first agent (the only bidder) at `price`; resolves once it is assigned. */
async function assignedTask(requester: Caller, price = 40 * credit, body = {}): Promise<Task> {
  const task = await client.postTask(requester, body);
  const auctionId = await client.auctionOf(requester, task.id);
  const timeout = (body as { timeout_seconds?: number }).timeout_seconds ?? 30;
  expect((await client.bid(owners[0]!, auctionId, agents[0]!, price, Math.min(15, timeout))).status).toBe(
    201,
  );
  return client.statusReached(requester, task.id, 'assigned');
}

async function expectBalance(caller: Caller, available: number, held = 0) {
  const balance = await client.balanceOf(caller);
  expect({ available: balance.available, held: balance.held }).toEqual({ available, held });
}

describe('when a task goes through the whole marketplace', () => {
  test('then three bids clear by score, the agent works, the requester accepts, and the cleared price moves exactly', async () => {
    const requester = await funded();
    const ownersBefore = await Promise.all(owners.map((owner) => client.balanceOf(owner)));
    const created = await client.createTask(requester, { auction: { duration_seconds: 2 } });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect(created.body).toMatchObject({ status: 'auctioning', budget: 100 * credit, cost: null });
    await expectBalance(requester, 0, 100 * credit);

    const auctionId = await client.auctionOf(requester, String(created.body.id));
    // Same reputation and estimate for all: the lowest price scores best.
    for (const [index, price] of [50, 45, 60].entries()) {
      const placed = await client.bid(owners[index]!, auctionId, agents[index]!, price * credit);
      expect(placed.status, JSON.stringify(placed.body)).toBe(201);
    }
    const assigned = await client.statusReached(requester, String(created.body.id), 'assigned');
    expect(assigned.assigned_agent_id).toBe(agents[1]);
    const auction = await client.call('GET', `/auctions/${auctionId}`, { token: requester.token });
    const outcome = auction.body.outcome as { winner_agent_id: string; price: number };
    expect(outcome.winner_agent_id).toBe(agents[1]);
    expect(assigned.cost).toBe(outcome.price);
    expect(outcome.price).toBeGreaterThanOrEqual(45 * credit);
    expect(outcome.price).toBeLessThanOrEqual(50 * credit);
    expect(assigned.timeout_at).not.toBeNull();

    const winner = owners[1]!;
    const assignments = await client.call('GET', `/agents/${agents[1]}/assignments`, { token: winner.token });
    expect((assignments.body.items as Task[]).map((task) => task.id)).toEqual([assigned.id]);
    // Another owner sees neither the assignment nor the task.
    const others = await client.call('GET', `/agents/${agents[1]}/assignments`, { token: owners[0]!.token });
    expect(others.body.items).toEqual([]);
    expectError(
      await client.call('GET', `/tasks/${assigned.id}`, { token: owners[0]!.token }),
      404,
      'NOT_FOUND',
    );

    expect((await client.transition(winner, assigned.id, 'start')).body.status).toBe('running');
    const submitted = await client.transition(winner, assigned.id, 'result', { output: { text: 'HELLO' } });
    expect(submitted.body).toMatchObject({ status: 'submitted', output: { text: 'HELLO' } });
    const accepted = await client.transition(requester, assigned.id, 'accept');
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body.status).toBe('completed');

    await waitUntil(
      'the capture settles',
      async () => (await client.balanceOf(winner)).available > ownersBefore[1]!.available,
    );
    await expectBalance(requester, 100 * credit - outcome.price);
    await expectBalance(winner, ownersBefore[1]!.available + outcome.price);
    for (const index of [0, 2]) await expectBalance(owners[index]!, ownersBefore[index]!.available);
    await waitUntil('reputation counts the completed task', async () => {
      const reputation = await client.reputationOf(agents[1]!);
      return reputation.tasks?.completed === 1;
    });
    await client.reconciled(admin);
  });
});

describe('when a task does not end well', () => {
  test('then no bids → failed with a reason and the whole hold back', async () => {
    const requester = await funded();
    const task = await client.postTask(requester);
    const failed = await client.statusReached(requester, task.id, 'failed');
    expect(failed.error).toMatch(/no valid bid/i);
    await waitUntil('the refund settles', async () => (await client.balanceOf(requester)).held === 0);
    await expectBalance(requester, 100 * credit);
  });

  test('then an agent that never submits times out: refund and a reputation penalty', async () => {
    const requester = await funded();
    const before = await client.reputationOf(agents[0]!);
    const task = await assignedTask(requester, 40 * credit, { timeout_seconds: 1 });
    expect((await client.transition(owners[0]!, task.id, 'start')).body.status).toBe('running');
    await client.statusReached(requester, task.id, 'timed_out');
    await waitUntil('the refund settles', async () => (await client.balanceOf(requester)).held === 0);
    await expectBalance(requester, 100 * credit);
    await waitUntil('reputation counts the timeout', async () => {
      const after = await client.reputationOf(agents[0]!);
      return (
        (after.tasks?.timed_out ?? 0) === (before.tasks?.timed_out ?? 0) + 1 &&
        after.overall < (before.overall ?? 50)
      );
    });
    expectError(
      await client.transition(owners[0]!, task.id, 'result', { output: 'late' }),
      409,
      'INVALID_TASK_STATE',
    );
  });

  test('then a cancel during the auction cancels the task and its auction and refunds the hold', async () => {
    const requester = await funded();
    const task = await client.postTask(requester, { auction: { duration_seconds: 30 } });
    const auctionId = await client.auctionOf(requester, task.id);
    const canceled = await client.transition(requester, task.id, 'cancel');
    expect(canceled.status, JSON.stringify(canceled.body)).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    await waitUntil('the refund settles', async () => (await client.balanceOf(requester)).held === 0);
    await expectBalance(requester, 100 * credit);
    await waitUntil(
      'the auction is canceled',
      async () =>
        (await client.call('GET', `/auctions/${auctionId}`, { token: requester.token })).body.status ===
        'canceled',
    );
    expectError(await client.bid(owners[0]!, auctionId, agents[0]!, credit), 409, 'AUCTION_CLOSED');
    expectError(await client.transition(requester, task.id, 'cancel'), 409, 'INVALID_TASK_STATE');
  });

  test('then an agent that reports failure refunds the requester, and only the agent may report it', async () => {
    const requester = await funded();
    const task = await assignedTask(requester);
    expectError(await client.transition(requester, task.id, 'fail', { error: 'x' }), 403, 'FORBIDDEN');
    expectError(await client.transition(owners[0]!, task.id, 'accept'), 403, 'FORBIDDEN');
    expect((await client.transition(owners[0]!, task.id, 'start')).body.status).toBe('running');
    expectError(await client.transition(requester, task.id, 'cancel'), 409, 'INVALID_TASK_STATE');
    const failed = await client.transition(owners[0]!, task.id, 'fail', { error: 'the model refused' });
    expect(failed.body).toMatchObject({ status: 'failed', error: 'the model refused' });
    await waitUntil('the refund settles', async () => (await client.balanceOf(requester)).held === 0);
    await expectBalance(requester, 100 * credit);
  });

  test('then a rejected result is disputed until an admin refunds it or pays the agent', async () => {
    const requester = await funded(200 * credit);
    const ownerBefore = (await client.balanceOf(owners[0]!)).available;
    const tasks: Task[] = [];
    for (const price of [30 * credit, 20 * credit]) {
      const task = await assignedTask(requester, price);
      await client.transition(owners[0]!, task.id, 'start');
      await client.transition(owners[0]!, task.id, 'result', { output: 'lowercase still' });
      const rejected = await client.transition(requester, task.id, 'reject', { reason: 'not upper case' });
      expect(rejected.body).toMatchObject({ status: 'disputed', error: 'not upper case' });
      tasks.push(rejected.body as Task);
    }
    await expectBalance(requester, 0, 200 * credit);
    expectError(await client.transition(requester, tasks[0]!.id, 'accept'), 409, 'INVALID_TASK_STATE');
    expectError(
      await client.call('POST', `/admin/tasks/${tasks[0]!.id}/resolve`, {
        token: requester.token,
        body: { outcome: 'refund' },
      }),
      403,
      'FORBIDDEN',
    );
    const refunded = await client.call('POST', `/admin/tasks/${tasks[0]!.id}/resolve`, {
      token: admin.token,
      body: { outcome: 'refund' },
    });
    expect(refunded.body.status, JSON.stringify(refunded.body)).toBe('failed');
    const paid = await client.call('POST', `/admin/tasks/${tasks[1]!.id}/resolve`, {
      token: admin.token,
      body: { outcome: 'pay_agent' },
    });
    expect(paid.body.status).toBe('completed');
    await waitUntil('both settle', async () => (await client.balanceOf(requester)).held === 0);
    await expectBalance(requester, 200 * credit - 20 * credit);
    await expectBalance(owners[0]!, ownerBefore + 20 * credit);
    await client.reconciled(admin);
  });

  test('then a result nobody reviews is accepted when the acceptance window passes', async () => {
    const requester = await funded();
    const ownerBefore = (await client.balanceOf(owners[0]!)).available;
    const task = await assignedTask(requester, 25 * credit);
    await client.transition(owners[0]!, task.id, 'start');
    await client.transition(owners[0]!, task.id, 'result', { output: 'DONE' });
    await client.statusReached(requester, task.id, 'completed');
    await waitUntil('the capture settles', async () => (await client.balanceOf(requester)).held === 0);
    await expectBalance(requester, 75 * credit);
    await expectBalance(owners[0]!, ownerBefore + 25 * credit);
  });
});

describe('when a task is posted', () => {
  test('then too little money is INSUFFICIENT_FUNDS and leaves no task', async () => {
    const requester = await funded(10 * credit);
    expectError(await client.createTask(requester), 409, 'INSUFFICIENT_FUNDS');
    const listed = await client.call('GET', '/tasks', { token: requester.token });
    expect(listed.body.items).toEqual([]);
    await expectBalance(requester, 10 * credit);
  });

  test('then ten concurrent posts with one Idempotency-Key make one task and one hold', async () => {
    const requester = await funded(300 * credit);
    const key = randomUUID();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => client.createTask(requester, {}, key)),
    );
    const created = answers.filter((answer) => answer.status === 202);
    const busy = answers.filter((answer) => answer.status === 409);
    expect(created.length + busy.length, JSON.stringify(answers.map((answer) => answer.body))).toBe(10);
    expect(created.length).toBeGreaterThanOrEqual(1);
    for (const answer of busy)
      expect((answer.body.error as { code: string }).code).toBe('IDEMPOTENCY_REQUEST_IN_PROGRESS');
    expect(new Set(created.map((answer) => answer.body.id)).size).toBe(1);
    const replay = await client.createTask(requester, {}, key);
    expect(replay.status).toBe(202);
    expect(replay.body.id).toBe(created[0]!.body.id);
    expectError(
      await client.createTask(requester, { budget: 5 * credit }, key),
      409,
      'IDEMPOTENCY_KEY_REUSED',
    );
    const listed = await client.call('GET', '/tasks', { token: requester.token });
    expect((listed.body.items as Task[]).map((task) => task.id)).toEqual([created[0]!.body.id]);
    await expectBalance(requester, 200 * credit, 100 * credit);
  });

  test('then its input is limited to 64 KiB and a result to 256 KiB, and the result route takes a body above the default limit', async () => {
    const requester = await funded();
    expectError(
      await client.createTask(requester, { input: { text: 'x'.repeat(70 * 1024) } }),
      400,
      'VALIDATION_FAILED',
    );
    // An auction that could never open is refused before anything is held.
    for (const auction of [{ type: 'reserve' }, { reserve_price: 101 * credit }]) {
      expectError(await client.createTask(requester, { auction }), 400, 'VALIDATION_FAILED');
    }
    await expectBalance(requester, 100 * credit);
    const task = await assignedTask(requester);
    await client.transition(owners[0]!, task.id, 'start');
    expectError(
      await client.transition(owners[0]!, task.id, 'result', { output: 'x'.repeat(260 * 1024) }),
      400,
      'VALIDATION_FAILED',
    );
    const big = 'y'.repeat(200 * 1024);
    const submitted = await client.transition(owners[0]!, task.id, 'result', { output: big });
    expect(submitted.status, JSON.stringify(submitted.body).slice(0, 300)).toBe(200);
    expect(submitted.body.output).toBe(big);
    expect((await client.transition(requester, task.id, 'accept')).body.status).toBe('completed');
  });
});

/**
 * Reads a server-sent event stream until it ends: `statuses` fills as `status` events arrive,
 * `heartbeats` counts comment lines, `ended` resolves with the response when the server closes it.
 */
function followEvents(url: string, token: string) {
  const statuses: string[] = [];
  const seen = { heartbeats: 0 };
  const ended = (async () => {
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith(':')) seen.heartbeats += 1;
        const data = block.split('\n').find((line) => line.startsWith('data: '));
        if (block.includes('event: status') && data)
          statuses.push((JSON.parse(data.slice(6)) as Task).status);
        end = buffer.indexOf('\n\n');
      }
    }
    return response;
  })();
  const sawStatus = (status: string) =>
    waitUntil(`the stream shows ${status}`, async () => statuses.includes(status));
  return { statuses, seen, ended, sawStatus };
}

describe('when a reader follows a task live', () => {
  test('then GET /tasks/{id}/events streams each status with heartbeats and closes after the terminal one', async () => {
    const requester = await funded();
    const task = await client.postTask(requester, { auction: { duration_seconds: 3 } });
    const stream = followEvents(`${system.baseUrl}/api/v1/tasks/${task.id}/events`, requester.token);
    const auctionId = await client.auctionOf(requester, task.id);
    await stream.sawStatus('auctioning');
    expect((await client.bid(owners[2]!, auctionId, agents[2]!, 10 * credit)).status).toBe(201);
    await stream.sawStatus('assigned');
    await client.transition(owners[2]!, task.id, 'start');
    await stream.sawStatus('running');
    await client.transition(owners[2]!, task.id, 'result', { output: 'OK' });
    await stream.sawStatus('submitted');
    await client.transition(requester, task.id, 'accept');
    const response = await stream.ended;
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(stream.statuses[0]).toMatch(/pending|auctioning/);
    expect(stream.statuses.slice(-5)).toEqual([
      'auctioning',
      'assigned',
      'running',
      'submitted',
      'completed',
    ]);
    expect(stream.seen.heartbeats).toBeGreaterThan(0);
  });

  test('then an API key with tasks:read follows it too, and a cancel ends the stream', async () => {
    const requester = await funded();
    const key = await client.apiKey(requester, ['tasks:read']);
    const task = await client.postTask(requester, { auction: { duration_seconds: 30 } });
    const stream = followEvents(`${system.baseUrl}/api/v1/tasks/${task.id}/events`, key);
    await stream.sawStatus('auctioning');
    expect((await client.transition(requester, task.id, 'cancel')).body.status).toBe('canceled');
    expect((await stream.ended).status).toBe(200);
    expect(stream.statuses.at(-1)).toBe('canceled');
  });

  test('then someone who may not see the task gets 404 and no stream, and nobody anonymous gets in', async () => {
    const requester = await funded();
    const task = await client.postTask(requester);
    const stranger = await client.register('stranger');
    const refused = await fetch(`${system.baseUrl}/api/v1/tasks/${task.id}/events`, {
      headers: { authorization: `Bearer ${stranger.token}` },
    });
    expect(refused.status).toBe(404);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    const anonymous = await fetch(`${system.baseUrl}/api/v1/tasks/${task.id}/events`);
    expect(anonymous.status).toBe(401);
  });
});
