import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningStack, waitUntil } from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { credit, marketplaceClient, startMarketplaceStack, type Task } from './support/marketplace.js';
import type { Caller } from './support/payments.js';

/**
 * The saga survives crashes (SPEC §4.5): the task service is killed with SIGKILL at a step of
 * the saga (its test-only crash hook, armed by a file in TASK_CRASH_DIR, fires once), restarted,
 * and the task still ends as it should with every escrow step applied exactly once.
 */
let system: RunningStack;
const client = marketplaceClient(() => system);
const crashDir = mkdtempSync(join(tmpdir(), 'task-crash-'));
let admin: Caller;
let owner: Caller;
let agent: string;

beforeAll(async () => {
  system = await startMarketplaceStack({ TASK_CRASH_DIR: crashDir });
  admin = await client.admin();
  owner = await client.register('owner');
  agent = await client.agentOf(owner);
});
afterAll(async () => {
  await system?.stop();
  rmSync(crashDir, { recursive: true, force: true });
});

const taskService = () => system.services.task!;

/** Arms the crash hook at `point`, lets `act` run into it, waits for the kill and restarts the service. */
async function crashAt(point: string, act: () => Promise<unknown>): Promise<void> {
  writeFileSync(join(crashDir, point), '');
  const killed = new Promise<NodeJS.Signals | null>((resolve) =>
    taskService().process.child.once('exit', (_code, signal) => resolve(signal)),
  );
  await act();
  expect(await killed).toBe('SIGKILL');
  await taskService().restart();
}

/** The payment service's ledger transfers that reference the task, by kind. */
async function transfersOf(taskId: string): Promise<Record<string, number>> {
  const db = new pg.Client({ connectionString: system.services['payment-channel']!.databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ kind: string; count: string }>(
      'SELECT kind, count(*) AS count FROM transfers WHERE reference_id = $1 GROUP BY kind ORDER BY kind',
      [taskId],
    );
    return Object.fromEntries(rows.map((row) => [row.kind, Number(row.count)]));
  } finally {
    await db.end();
  }
}

async function work(taskId: string) {
  expect((await client.transition(owner, taskId, 'start')).body.status).toBe('running');
  expect((await client.transition(owner, taskId, 'result', { output: 'DONE' })).body.status).toBe(
    'submitted',
  );
}

describe('when the task service is killed in the middle of the saga', () => {
  test('then a kill between the award and the assignment resumes from the redelivered award', async () => {
    const requester = await client.register('requester');
    await client.deposit(requester, 100 * credit);
    const ownerBefore = (await client.balanceOf(owner)).available;
    const task = await client.postTask(requester);
    const auctionId = await client.auctionOf(requester, task.id);
    await crashAt('before-assign', async () => {
      expect((await client.bid(owner, auctionId, agent, 30 * credit)).status).toBe(201);
    });
    // JetStream redelivers the award the dead process never acknowledged (after its ack wait).
    const assigned: Task = await client.statusReached(requester, task.id, 'assigned', 60_000);
    expect(assigned).toMatchObject({ assigned_agent_id: agent, cost: 30 * credit });
    await work(task.id);
    expect((await client.transition(requester, task.id, 'accept')).body.status).toBe('completed');
    await waitUntil('the capture settles', async () => (await client.balanceOf(requester)).held === 0);
    expect((await client.balanceOf(requester)).available).toBe(70 * credit);
    expect((await client.balanceOf(owner)).available).toBe(ownerBefore + 30 * credit);
    expect(await transfersOf(task.id)).toEqual({ escrow_capture: 1, escrow_hold: 1, escrow_return: 1 });
    await client.reconciled(admin);
  }, 120_000);

  test('then a kill between the acceptance and the capture is captured once after the restart', async () => {
    const requester = await client.register('requester');
    await client.deposit(requester, 100 * credit);
    const ownerBefore = (await client.balanceOf(owner)).available;
    const task = await client.postTask(requester);
    const auctionId = await client.auctionOf(requester, task.id);
    expect((await client.bid(owner, auctionId, agent, 40 * credit)).status).toBe(201);
    await client.statusReached(requester, task.id, 'assigned');
    await work(task.id);
    await crashAt('before-capture', async () => {
      // The acceptance commits, then the process dies before paying: the gateway gets no answer.
      const accepted = await client.transition(requester, task.id, 'accept');
      expect(accepted.status).toBe(504);
    });
    // The acceptance was committed before the kill. The new process may answer its first
    // requests slowly on a busy machine, so read until it does.
    await client.statusReached(requester, task.id, 'completed');
    await waitUntil(
      'the saga job captures',
      async () => (await client.balanceOf(requester)).held === 0,
      60_000,
    );
    expect((await client.balanceOf(requester)).available).toBe(60 * credit);
    expect((await client.balanceOf(owner)).available).toBe(ownerBefore + 40 * credit);
    // Accepting again is refused and moves nothing.
    expect((await client.transition(requester, task.id, 'accept')).status).toBe(409);
    expect(await transfersOf(task.id)).toEqual({ escrow_capture: 1, escrow_hold: 1, escrow_return: 1 });
    await client.reconciled(admin);
  }, 120_000);
});
