import { type RunningStack, startStack, waitUntil } from '@zerostate/testkit';
import { expect } from 'vitest';
import { call, type JsonResponse } from './http.js';
import { type Caller, paymentsClient } from './payments.js';

export const credit = 1_000_000;

export type Json = Record<string, unknown>;
export type Task = Json & { id: string; status: string; auction_id: string | null; cost: number | null };

/** A whole stack tuned for marketplace flows: auctions close, deadlines and saga steps run every 100–200 ms. */
export function startMarketplaceStack(env: Record<string, string> = {}): Promise<RunningStack> {
  return startStack({
    env: {
      BCRYPT_COST: '4',
      RATE_LIMIT_CAPACITY: '10000',
      RATE_LIMIT_REFILL_PER_MINUTE: '100000',
      LOGIN_LIMIT_PER_ACCOUNT_PER_MINUTE: '100',
      LOGIN_LIMIT_PER_IP_PER_MINUTE: '1000',
      AUCTION_CLOSE_INTERVAL_MS: '100',
      TASK_DEADLINE_INTERVAL_MS: '200',
      TASK_SAGA_INTERVAL_MS: '200',
      TASK_PENDING_RETRY_SECONDS: '2',
      ...env,
    },
  });
}

/** HTTP helpers for tasks, agents and bids over the stack `stack()` returns once started. */
export function marketplaceClient(stack: () => RunningStack) {
  const payments = paymentsClient(stack);
  const api = (method: string, path: string, options: Parameters<typeof call>[3] = {}) =>
    call(stack().baseUrl, method, `/api/v1${path}`, options);

  async function agentOf(owner: Caller, capabilities = ['text.upper']): Promise<string> {
    const response = await api('POST', '/agents', {
      token: owner.token,
      body: { name: 'worker', capabilities, price_per_task: credit },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return String(response.body.id);
  }

  const createTask = (requester: Caller, body: Json = {}, key?: string): Promise<JsonResponse> =>
    api('POST', '/tasks', {
      token: requester.token,
      body: {
        type: 'uppercase',
        capabilities: ['text.upper'],
        input: { text: 'hello' },
        budget: 100 * credit,
        auction: { duration_seconds: 1 },
        ...body,
      },
      ...(key ? { headers: { 'Idempotency-Key': key } } : {}),
    });

  async function postTask(requester: Caller, body: Json = {}): Promise<Task> {
    const response = await createTask(requester, body);
    expect(response.status, JSON.stringify(response.body)).toBe(202);
    return response.body as Task;
  }

  const getTask = async (caller: Caller, id: string): Promise<Task> => {
    const response = await api('GET', `/tasks/${id}`, { token: caller.token });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body as Task;
  };

  async function statusReached(
    caller: Caller,
    id: string,
    status: string,
    timeoutMs = 20_000,
  ): Promise<Task> {
    let last: Task | undefined;
    await waitUntil(
      `task ${id} ${status} (last seen ${last?.status})`,
      async () => {
        last = await getTask(caller, id);
        return last.status === status;
      },
      timeoutMs,
    );
    return last!;
  }

  const transition = (caller: Caller, id: string, action: string, body: Json = {}) =>
    api('POST', `/tasks/${id}/${action}`, { token: caller.token, body });

  /** The task's auction, once the saga opened it. */
  async function auctionOf(requester: Caller, id: string): Promise<string> {
    const task = await statusReached(requester, id, 'auctioning');
    return task.auction_id!;
  }

  const bid = (owner: Caller, auctionId: string, agentId: string, price: number, eta = 15) =>
    api('POST', `/auctions/${auctionId}/bids`, {
      token: owner.token,
      body: { agent_id: agentId, price, estimated_time_seconds: eta },
    });

  async function reputationOf(agentId: string) {
    const response = await api('GET', `/reputation/${agentId}`);
    return response.body as {
      overall: number;
      tasks: { total: number; completed: number; failed: number; timed_out: number };
    };
  }

  async function reconciled(admin: Caller) {
    const report = await api('GET', '/admin/payments/reconciliation', { token: admin.token });
    expect(report.status).toBe(200);
    expect(report.body.violations).toEqual([]);
    expect(report.body.ok).toBe(true);
  }

  return {
    ...payments,
    call: api,
    agentOf,
    createTask,
    postTask,
    getTask,
    statusReached,
    transition,
    auctionOf,
    bid,
    reputationOf,
    reconciled,
  };
}
