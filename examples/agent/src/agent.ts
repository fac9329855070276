import { type ApiClient, ApiError } from './client.js';
import { type AuctionTerms, bidPrice, type PricingRule } from './pricing.js';
import { capabilitiesOf, perform, type TransformName, WorkRefused } from './work.js';

export interface AgentSettings {
  name: string;
  transforms: TransformName[];
  pricing: PricingRule;
  /** Seconds the agent promises per task (capped by each auction's timeout). */
  estimateSeconds: number;
  heartbeatMs: number;
  pollMs: number;
  /** Tasks worked on at once (also the registered max_capacity). */
  concurrency: number;
  /** Share of tasks it reports as failed (a less reliable agent, for demos). */
  failureRate: number;
  /** Extra time each task takes (a slower agent, for demos). */
  workDelayMs: number;
  /** Reuse an agent registered earlier instead of registering a new one. */
  agentId?: string;
}

/** Bids sent at once when many auctions open together. */
const bidsAtOnce = 8;

export type Log = (event: string, fields?: Record<string, unknown>) => void;

interface Page<T> {
  items: T[];
  next_cursor: string | null;
}
interface OpenAuction extends AuctionTerms {
  id: string;
  task_id: string | null;
  own_bids: { id: string }[];
}
interface Task {
  id: string;
  type: string;
  input: unknown;
  status: string;
}

export interface RunningAgent {
  agentId: string;
  /** Bids placed, tasks submitted and failed so far. */
  counts: { bids: number; submitted: number; failed: number };
  /** Stops looking for work, lets tasks in progress finish, then resolves. */
  stop(): Promise<void>;
}

/**
 * Registers (or reuses) the agent, then runs three loops until stopped: heartbeats, bidding on
 * open auctions it fits by its pricing rule, and working its assignments (start, run, submit the
 * result or report failure). Every write has an Idempotency-Key derived from what it is about
 * (`bid:<agent>:<auction>`, `result:<task>`), so a retry after a timeout, or after a restart,
 * never bids or submits twice.
 */
export async function startAgent(
  client: ApiClient,
  settings: AgentSettings,
  log: Log,
): Promise<RunningAgent> {
  const agentId = settings.agentId ?? (await register(client, settings));
  log('agent.ready', { agent_id: agentId, reused: settings.agentId !== undefined });
  const counts = { bids: 0, submitted: 0, failed: 0 };
  let stopped = false;
  const wakers = new Set<() => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      }
      wakers.add(done);
    });
  const loop = async (name: string, intervalMs: number, step: () => Promise<void>) => {
    while (!stopped) {
      await step().catch((error: unknown) => log(`${name}.error`, { error: String(error) }));
      if (!stopped) await sleep(intervalMs);
    }
  };

  const heartbeat = () => client.post(`/agents/${agentId}/heartbeat`, {}).then(() => undefined);

  const biddingOn = new Set<string>();
  const bid = async () => {
    const page = await client.get<Page<OpenAuction>>(`/auctions?status=open&agent_id=${agentId}&limit=100`);
    const open = new Set(page.items.map((auction) => auction.id));
    for (const id of biddingOn) if (!open.has(id)) biddingOn.delete(id);
    const fresh = page.items.filter((auction) => !biddingOn.has(auction.id) && auction.own_bids.length === 0);
    for (const auction of fresh) biddingOn.add(auction.id);
    // A few at a time: many auctions open at once must not expire while it works down the list.
    for (let start = 0; start < fresh.length && !stopped; start += bidsAtOnce) {
      await Promise.all(fresh.slice(start, start + bidsAtOnce).map(bidOn));
    }
  };
  const bidOn = async (auction: OpenAuction) => {
    const price = bidPrice(auction, settings.pricing);
    if (price === undefined) {
      log('auction.skipped', { auction_id: auction.id, reason: 'max_price below cost' });
      return;
    }
    const body = {
      agent_id: agentId,
      price,
      estimated_time_seconds: Math.min(settings.estimateSeconds, auction.timeout_seconds),
    };
    try {
      const placed = await client.post<{ id: string }>(
        `/auctions/${auction.id}/bids`,
        body,
        `bid:${agentId}:${auction.id}`,
      );
      counts.bids += 1;
      log('bid.placed', { auction_id: auction.id, task_id: auction.task_id, bid_id: placed.id, price });
    } catch (error) {
      // Closed meanwhile, or refused for a reason that will not change for this auction.
      if (!(error instanceof ApiError) || error.status >= 500) biddingOn.delete(auction.id);
      log('bid.refused', { auction_id: auction.id, error: String(error) });
    }
  };

  const working = new Map<string, Promise<void>>();
  const work = async (task: Task) => {
    if (task.status === 'assigned') await client.post(`/tasks/${task.id}/start`, {}, `start:${task.id}`);
    if (settings.workDelayMs > 0) await sleep(settings.workDelayMs);
    let output: Record<string, unknown> | undefined;
    let failure: string | undefined;
    try {
      if (Math.random() < settings.failureRate)
        throw new WorkRefused('simulated failure (this agent fails on purpose)');
      output = perform(task.type, task.input, settings.transforms);
    } catch (error) {
      if (!(error instanceof WorkRefused)) throw error;
      failure = error.message;
    }
    if (output) {
      await client.post(`/tasks/${task.id}/result`, { output }, `result:${task.id}`);
      counts.submitted += 1;
      log('task.submitted', { task_id: task.id, type: task.type });
    } else {
      await client.post(`/tasks/${task.id}/fail`, { error: failure }, `fail:${task.id}`);
      counts.failed += 1;
      log('task.failed', { task_id: task.id, type: task.type, error: failure });
    }
  };
  const assignments = async () => {
    const page = await client.get<Page<Task>>(`/agents/${agentId}/assignments?limit=100`);
    for (const task of page.items) {
      if (stopped || working.has(task.id) || working.size >= settings.concurrency) continue;
      const running = work(task)
        .catch((error: unknown) => log('task.error', { task_id: task.id, error: String(error) }))
        .finally(() => working.delete(task.id));
      working.set(task.id, running);
    }
  };

  await heartbeat();
  const loops = [
    loop('heartbeat', settings.heartbeatMs, heartbeat),
    loop('bidding', settings.pollMs, bid),
    loop('assignments', settings.pollMs, assignments),
  ];
  return {
    agentId,
    counts,
    stop: async () => {
      stopped = true;
      for (const wake of [...wakers]) wake();
      await Promise.all(loops);
      await Promise.all(working.values());
      log('agent.stopped', { agent_id: agentId, ...counts });
    },
  };
}

async function register(client: ApiClient, settings: AgentSettings): Promise<string> {
  const agent = await client.post<{ id: string }>('/agents', {
    name: settings.name,
    capabilities: capabilitiesOf(settings.transforms),
    price_per_task: settings.pricing.cost,
    max_capacity: settings.concurrency,
  });
  return agent.id;
}
