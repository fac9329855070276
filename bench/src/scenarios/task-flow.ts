import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type RunningStack, repositoryRoot } from '@zerostate/testkit';
import { load } from '../load.js';
import { callJson, startSystem } from '../system.js';
import { expectStatus, reconcile, register } from './channel-payments.js';

interface LoadOptions {
  connections: number;
  durationSeconds: number;
}

const credit = 1_000_000;
const scopes = ['agents:write', 'auctions:read', 'bids:write', 'tasks:read', 'tasks:write'];
const steps = ['auction', 'pick-up', 'work', 'review'] as const;
type Step = (typeof steps)[number];

interface TaskView {
  id: string;
  status: string;
  created_at: string;
  assigned_at: string | null;
  started_at: string | null;
  submitted_at: string | null;
  completed_at: string | null;
}

/** Three example agent processes, each its own owner with an API key, polling fast. */
async function startAgents(baseUrl: string): Promise<{ agents: ChildProcess[] }> {
  const agents: ChildProcess[] = [];
  for (const [index, cost] of [1, 2, 3].entries()) {
    const owner = await register(baseUrl, `bench-agent-owner-${index}`);
    const key = await expectStatus(
      callJson('POST', `${baseUrl}/api/v1/api-keys`, {
        token: owner.token,
        body: { name: 'bench agent', scopes },
      }),
      201,
      'api key',
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(repositoryRoot, 'examples/agent/src/main.ts')],
      {
        cwd: repositoryRoot,
        env: {
          ...process.env,
          ZS_API_URL: `${baseUrl}/api/v1`,
          ZS_API_KEY: String(key.key),
          AGENT_NAME: `bench agent ${index}`,
          AGENT_COST: String(cost * credit),
          AGENT_POLL_MS: '100',
          AGENT_CONCURRENCY: '100',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`bench agent ${index} exited with ${code}`)));
      child.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('"agent.ready"')) resolve();
      });
    });
    agents.push(child);
  }
  return { agents };
}

/**
 * One requester lane: posts a task, follows it until the agent submits, accepts, waits for the
 * capture, and posts the next, until the deadline. Returns the tasks it saw complete.
 */
async function lane(
  baseUrl: string,
  token: string,
  deadline: number,
  failures: Map<string, number>,
): Promise<TaskView[]> {
  const done: TaskView[] = [];
  while (Date.now() < deadline) {
    const task = (await expectStatus(
      callJson('POST', `${baseUrl}/api/v1/tasks`, {
        token,
        body: {
          type: 'uppercase',
          capabilities: ['text.uppercase'],
          input: { text: 'benchmark' },
          budget: 5 * credit,
          timeout_seconds: 30,
          auction: { type: 'second_price', duration_seconds: 2 },
        },
      }),
      202,
      'create task',
    )) as unknown as TaskView;
    let view = task;
    while (!['completed', 'failed', 'timed_out', 'canceled'].includes(view.status)) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      view = (await expectStatus(
        callJson('GET', `${baseUrl}/api/v1/tasks/${task.id}`, { token }),
        200,
        'get task',
      )) as unknown as TaskView;
      if (view.status === 'submitted') {
        await callJson('POST', `${baseUrl}/api/v1/tasks/${task.id}/accept`, { token, body: {} });
      }
    }
    if (view.status === 'completed') done.push(view);
    else {
      const reason = `${view.status}: ${String((view as { error?: string }).error)}`;
      failures.set(reason, (failures.get(reason) ?? 0) + 1);
    }
  }
  return done;
}

const ms = (from: string | null, to: string | null) => new Date(to!).getTime() - new Date(from!).getTime();
const percentile = (values: number[], share: number) => {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? 0;
};

/** Time spent in each step of each task, from the task's own timestamps. */
function stepTimes(tasks: TaskView[]): Record<Step, number[]> {
  return {
    auction: tasks.map((task) => ms(task.created_at, task.assigned_at)),
    'pick-up': tasks.map((task) => ms(task.assigned_at, task.started_at)),
    work: tasks.map((task) => ms(task.started_at, task.submitted_at)),
    review: tasks.map((task) => ms(task.submitted_at, task.completed_at)),
  };
}

async function measure(system: RunningStack, options: LoadOptions) {
  const baseUrl = system.baseUrl;
  const requester = await register(baseUrl, 'bench-requester');
  await expectStatus(
    callJson('POST', `${baseUrl}/api/v1/payments/deposit`, {
      token: requester.token,
      body: { amount: 10_000 * credit },
    }),
    201,
    'deposit',
  );
  const headers = { authorization: `Bearer ${requester.token}` };
  const me = `${baseUrl}/api/v1/users/me`;
  await load('warm-up', { url: me, connections: 10, durationSeconds: 2, headers });
  const usersMe = await load('gateway GET /api/v1/users/me', { url: me, headers, ...options });

  const { agents } = await startAgents(baseUrl);
  try {
    const started = Date.now();
    const deadline = started + options.durationSeconds * 1000;
    const failures = new Map<string, number>();
    const lanes = await Promise.all(
      Array.from({ length: options.connections }, () => lane(baseUrl, requester.token, deadline, failures)),
    );
    const elapsedSeconds = (Date.now() - started) / 1000;
    const tasks = lanes.flat();
    return { usersMe, tasks, elapsedSeconds, failures };
  } finally {
    await Promise.all(
      agents.map(
        (agent) =>
          new Promise((resolve) => {
            agent.once('exit', resolve);
            agent.kill('SIGTERM');
          }),
      ),
    );
  }
}

/**
 * The whole marketplace flow through the gateway with three example agent processes: each of
 * `connections` requester lanes posts a task (a 2 s second-price auction), waits for the award,
 * the agent's work and result, accepts, and waits for the capture, then posts the next. Prints
 * tasks per second beside `GET /users/me` of the same run, the time in each step (auction, agent
 * pick-up, work, review and capture) with the slowest named, and the ledger reconciliation.
 */
export async function taskFlow(options: LoadOptions) {
  const system = await startSystem({
    RATE_LIMIT_CAPACITY: '100000000',
    RATE_LIMIT_REFILL_PER_MINUTE: '100000000',
    LOGIN_LIMIT_PER_IP_PER_MINUTE: '100000',
    AUCTION_CLOSE_INTERVAL_MS: '100',
  });
  let measured: Awaited<ReturnType<typeof measure>>;
  let ledgerOk = false;
  try {
    measured = await measure(system, options);
    ledgerOk = (await reconcile(system.baseUrl, system.services.auth!.databaseUrl)).ok;
  } finally {
    await system.stop();
  }
  const { usersMe, tasks, elapsedSeconds, failures } = measured;
  const perSecond = tasks.length / elapsedSeconds;
  console.log(
    `\n## task-flow: ${options.connections} requester lanes for ${options.durationSeconds} s, three example agents, Node ${process.version}`,
  );
  console.log('| path | per second | p50 ms | p99 ms |');
  console.log('|---|---|---|---|');
  console.log(
    `| GET /api/v1/users/me (same gateway) | ${usersMe.requestsPerSecond} | ${usersMe.p50Ms} | ${usersMe.p99Ms} |`,
  );
  const whole = tasks.map((task) => ms(task.created_at, task.completed_at));
  console.log(
    `| task: create → award → complete → accept | ${perSecond.toFixed(1)} | ${percentile(whole, 0.5)} | ${percentile(whole, 0.99)} |`,
  );
  const times = stepTimes(tasks);
  console.log('\n| step | p50 ms | p99 ms | share of the p50 total |');
  console.log('|---|---|---|---|');
  const totalP50 = steps.reduce((sum, step) => sum + percentile(times[step], 0.5), 0);
  for (const step of steps)
    console.log(
      `| ${step} | ${percentile(times[step], 0.5)} | ${percentile(times[step], 0.99)} | ${((100 * percentile(times[step], 0.5)) / Math.max(totalP50, 1)).toFixed(0)}% |`,
    );
  const slowest = steps.reduce((worst, step) =>
    percentile(times[step], 0.5) > percentile(times[worst], 0.5) ? step : worst,
  );
  console.log(
    `\ntasks completed: ${tasks.length} (${(perSecond / usersMe.requestsPerSecond).toFixed(4)}x the users-me rate); slowest step: ${slowest}; reconciliation ok=${ledgerOk}`,
  );
  for (const [reason, count] of failures) console.log(`- not completed: ${count} × ${reason}`);
  if (!ledgerOk) throw new Error('the ledger did not reconcile after the task flow');
  return { perSecond, tasks: tasks.length };
}
