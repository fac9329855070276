// `pnpm demo`: the marketplace end to end, through the public HTTP API only. Starts the system
// (`pnpm start`) unless one already answers at DEMO_URL, creates two requesters and three agents
// of different price and reliability (example agent processes), posts tasks, prints what happens
// as it happens, then a summary (auctions, winners, prices, balances, reputation) and ends with
// the ledger reconciliation. Exit code 0 only if every task settled and the ledger reconciles.
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const baseUrl = process.env.DEMO_URL ?? 'http://127.0.0.1:8080';
const api = `${baseUrl}/api/v1`;
const taskCount = Number(process.env.DEMO_TASKS ?? 6);
const credit = 1_000_000;
const password = 'demo password, long enough';
const children = [];
const terminal = new Set(['completed', 'failed', 'timed_out', 'canceled']);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const credits = (micro) => (micro === null || micro === undefined ? '–' : (micro / credit).toFixed(2));
const say = (line) => console.log(line);

async function call(method, path, { token, body, key } = {}) {
  for (let attempt = 1; ; attempt += 1) {
    const response = await fetch(`${api}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(key ? { 'idempotency-key': key } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : {};
    if (response.ok) return parsed;
    // The demo is one client on loopback: wait out a rate limit rather than fail.
    if (response.status === 429 && attempt < 10) {
      await sleep(1000 * Number(response.headers.get('retry-after') ?? 1));
      continue;
    }
    throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  }
}

async function ready() {
  try {
    return (await fetch(`${baseUrl}/ready`)).ok;
  } catch {
    return false;
  }
}

async function ensureSystem() {
  if (await ready()) {
    say(`system: already running at ${baseUrl}`);
    return;
  }
  say('system: not running; building and starting it as `pnpm start` does…');
  await promisify(execFile)('pnpm', ['build'], { cwd: root });
  const system = spawn(process.execPath, [join(root, 'scripts/start.mjs')], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  children.push({ name: 'system', child: system, group: true });
  const deadline = Date.now() + 300_000;
  while (!(await ready())) {
    if (system.exitCode !== null) throw new Error(`pnpm start exited with ${system.exitCode}`);
    if (Date.now() > deadline) throw new Error('the system did not become ready within 5 minutes');
    await sleep(1000);
  }
  say(`system: ready at ${baseUrl}`);
}

async function register(label) {
  const email = `demo.${label}.${randomUUID().slice(0, 8)}@example.com`;
  const session = await call('POST', '/auth/register', { body: { email, password } });
  return { label, email, token: session.access_token, userId: session.user.id, did: session.user.did };
}

/** An example agent process for `owner`, resolved once it registered its agent. */
async function startAgent(owner, settings) {
  const key = await call('POST', '/api-keys', {
    token: owner.token,
    body: {
      name: `${settings.name} key`,
      scopes: ['agents:write', 'auctions:read', 'bids:write', 'tasks:read', 'tasks:write'],
    },
  });
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples/agent/src/main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      ZS_API_URL: api,
      ZS_API_KEY: key.key,
      AGENT_NAME: settings.name,
      AGENT_COST: String(settings.cost),
      AGENT_FAILURE_RATE: String(settings.failureRate),
      AGENT_WORK_DELAY_MS: String(settings.delayMs),
      AGENT_ESTIMATE_SECONDS: String(settings.estimateSeconds),
      AGENT_TRANSFORMS: settings.transforms.join(','),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push({ name: settings.name, child });
  const agent = { ...settings, owner, id: undefined };
  let partial = '';
  const registered = new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${settings.name} exited with ${code}`)));
    child.stdout.on('data', (chunk) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        if (entry.event === 'agent.ready') {
          agent.id = entry.agent_id;
          resolve(agent);
        } else if (entry.event === 'bid.placed') {
          say(
            `  ${settings.name.padEnd(8)} bids ${credits(entry.price)} on the auction of task ${short(entry.task_id)}`,
          );
        } else if (entry.event === 'task.failed') {
          say(`  ${settings.name.padEnd(8)} reports task ${short(entry.task_id)} failed: ${entry.error}`);
        }
      }
    });
  });
  return registered;
}

// Ids are UUIDv7, time first: their ends tell them apart.
const short = (id) => (id ? `…${String(id).slice(-6)}` : '–');
const inputs = [
  ['uppercase', 'the quick brown fox'],
  ['reverse', 'stressed desserts'],
  ['word-count', 'sealed bids decide who works and what it costs'],
];

async function main() {
  await ensureSystem();
  say('\n== accounts');
  const requesters = [await register('alice'), await register('bob')];
  for (const requester of requesters) {
    await call('POST', '/payments/deposit', {
      token: requester.token,
      body: { amount: 50 * credit },
      key: randomUUID(),
    });
    say(`  requester ${requester.label}: deposited 50.00 credits`);
  }
  const owners = [await register('owner-a'), await register('owner-b'), await register('owner-c')];
  say('\n== agents (example agent processes)');
  // Overlapping skills, so each kind of task has its own field of bidders.
  const agents = await Promise.all([
    startAgent(owners[0], {
      name: 'cheap',
      transforms: ['uppercase'],
      cost: 1 * credit,
      failureRate: 0.5,
      delayMs: 0,
      estimateSeconds: 10,
    }),
    startAgent(owners[1], {
      name: 'steady',
      transforms: ['uppercase', 'reverse'],
      cost: 2 * credit,
      failureRate: 0,
      delayMs: 200,
      estimateSeconds: 5,
    }),
    startAgent(owners[2], {
      name: 'premium',
      transforms: ['reverse', 'word-count'],
      cost: 3 * credit,
      failureRate: 0,
      delayMs: 0,
      estimateSeconds: 2,
    }),
  ]);
  for (const agent of agents)
    say(
      `  ${agent.name.padEnd(8)} ${agent.id}  does ${agent.transforms.join(', ')}; cost ${credits(agent.cost)}, fails ${agent.failureRate * 100}% on purpose, estimate ${agent.estimateSeconds} s`,
    );
  const agentName = new Map(agents.map((agent) => [agent.id, agent.name]));

  say(`\n== ${taskCount} tasks (budget 5.00 each, second-price auctions of 3 s)`);
  const tasks = [];
  for (let index = 0; index < taskCount; index += 1) {
    const requester = requesters[index % 2];
    const [type, text] = inputs[index % inputs.length];
    const task = await call('POST', '/tasks', {
      token: requester.token,
      key: randomUUID(),
      body: {
        type,
        capabilities: [`text.${type}`],
        input: { text },
        budget: 5 * credit,
        timeout_seconds: 30,
        auction: { type: 'second_price', duration_seconds: 3 },
      },
    });
    tasks.push({ id: task.id, requester, type, status: task.status, posted: task.status });
    say(`  ${requester.label} posts ${short(task.id)} ${type}("${text}") → ${task.status}`);
  }

  say('\n== live');
  const deadline = Date.now() + 120_000;
  const seen = new Map();
  while (tasks.some((task) => !terminal.has(task.status)) && Date.now() < deadline) {
    for (const requester of requesters) {
      const page = await call('GET', '/tasks?role=requester&limit=100', { token: requester.token });
      for (const view of page.items) {
        const task = tasks.find((each) => each.id === view.id);
        if (!task) continue;
        Object.assign(task, { status: view.status, view });
        if ((seen.get(view.id) ?? task.posted) === view.status) continue;
        seen.set(view.id, view.status);
        const agent = agentName.get(view.assigned_agent_id) ?? '–';
        const detail =
          view.status === 'assigned'
            ? ` to ${agent} at ${credits(view.cost)}`
            : view.status === 'submitted'
              ? ` by ${agent}: ${JSON.stringify(view.output)}`
              : view.status === 'failed'
                ? `: ${view.error}`
                : '';
        say(`  task ${short(view.id)} ${view.status}${detail}`);
        if (view.status === 'submitted') {
          await call('POST', `/tasks/${view.id}/accept`, {
            token: requester.token,
            body: {},
            key: `accept:${view.id}`,
          });
        }
      }
    }
    await sleep(1000);
  }

  say('\n== auctions');
  say('| task | type | status | winner | price | bids (agent: price → score) |');
  say('|---|---|---|---|---|---|');
  for (const task of tasks) {
    const view = task.view ?? (await call('GET', `/tasks/${task.id}`, { token: task.requester.token }));
    const auction = view.auction_id
      ? await call('GET', `/auctions/${view.auction_id}`, { token: task.requester.token })
      : undefined;
    const bids = (auction?.clearing?.bids ?? [])
      .map(
        (bid) =>
          `${agentName.get(bid.agent_id) ?? short(bid.agent_id)}: ${credits(bid.price)} → ${bid.score}`,
      )
      .join('; ');
    say(
      `| ${short(task.id)} | ${task.type} | ${view.status} | ${agentName.get(view.assigned_agent_id) ?? '–'} | ${credits(auction?.outcome?.price ?? view.cost)} | ${bids || '–'} |`,
    );
  }

  say('\n== balances (credits)');
  for (const account of [...requesters, ...owners]) {
    const balance = await call('GET', '/payments/balance', { token: account.token });
    say(
      `  ${account.label.padEnd(8)} available ${credits(balance.available)}, held ${credits(balance.held)}`,
    );
  }
  // Reputation follows the task events; give its consumer a moment.
  await sleep(2000);
  say('\n== reputation');
  for (const agent of agents) {
    const score = await call('GET', `/reputation/${agent.id}`);
    say(
      `  ${agent.name.padEnd(8)} overall ${score.overall} (reliability ${score.reliability}, quality ${score.quality}, speed ${score.speed}); tasks ${JSON.stringify(score.tasks)}`,
    );
  }

  say('\n== ledger');
  const admin = await register('admin');
  await promisify(execFile)(
    process.execPath,
    [join(root, 'services/auth/dist/grant-admin.js'), '--email', admin.email],
    {
      cwd: root,
      env: process.env,
    },
  );
  const session = await call('POST', '/auth/login', { body: { email: admin.email, password } });
  const report = await call('GET', '/admin/payments/reconciliation', { token: session.access_token });
  say(`  reconciliation: ok=${report.ok}, violations=${report.violations.length}`);
  const settled = tasks.every((task) => terminal.has(task.status));
  if (!settled) say('  some tasks did not settle within two minutes');
  return report.ok && settled ? 0 : 1;
}

async function stopChildren() {
  for (const { child, group } of children.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (group) process.kill(-child.pid, 'SIGTERM');
    else child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
  }
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  await stopChildren();
}
process.exit(code);
