import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type RunningProcess,
  type RunningStack,
  startProcess,
  startStack,
  waitUntil,
} from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The example agent as a real process against a real system, through the public HTTP API only,
 * with a proxy in between that can hold an answer back past the agent's timeout.
 */
let system: RunningStack;
let proxy: Server;
let proxyUrl: string;
/** Requests whose answer the proxy holds back this long (the first matching one only). */
let holdBack: { match: RegExp; ms: number; held: number } | undefined;
const credit = 1_000_000;

type Json = Record<string, unknown>;
async function api(method: string, path: string, token?: string, body?: unknown): Promise<Json> {
  const response = await fetch(`${system.baseUrl}/api/v1${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? (JSON.parse(text) as Json) : {};
}

async function account(label: string): Promise<string> {
  const session = await api('POST', '/auth/register', undefined, {
    email: `${label}.${randomUUID()}@example.com`,
    password: 'example agent password',
  });
  return String(session.access_token);
}

beforeAll(async () => {
  system = await startStack({
    env: {
      BCRYPT_COST: '4',
      AUCTION_CLOSE_INTERVAL_MS: '100',
      LOGIN_LIMIT_PER_IP_PER_MINUTE: '1000',
      RATE_LIMIT_CAPACITY: '10000',
      RATE_LIMIT_REFILL_PER_MINUTE: '100000',
    },
  });
  // Forwards everything to the gateway; the one request `holdBack` matches is applied upstream
  // but its answer reaches the agent only after the agent gave up waiting.
  proxy = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(request.headers).filter(
        ([name]) => !['host', 'connection', 'content-length'].includes(name),
      ),
    ) as Record<string, string>;
    const upstream = await fetch(`${system.baseUrl}${request.url}`, {
      method: request.method ?? 'GET',
      headers,
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
    });
    const body = Buffer.from(await upstream.arrayBuffer());
    if (holdBack && holdBack.held === 0 && holdBack.match.test(`${request.method} ${request.url}`)) {
      holdBack.held += 1;
      await new Promise((resolve) => setTimeout(resolve, holdBack!.ms));
    }
    if (response.destroyed) return;
    response.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/json',
    });
    response.end(body);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/api/v1`;
}, 120_000);
afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await system?.stop();
});

function startAgentProcess(apiKey: string, env: Record<string, string> = {}): RunningProcess {
  return startProcess('examples/agent/src/main.ts', {
    runtime: 'source',
    captureOutput: true,
    env: {
      ZS_API_URL: proxyUrl,
      ZS_API_KEY: apiKey,
      AGENT_NAME: 'uppercaser',
      AGENT_TRANSFORMS: 'uppercase',
      AGENT_COST: String(3 * credit),
      AGENT_POLL_MS: '100',
      AGENT_REQUEST_TIMEOUT_MS: '1000',
      ...env,
    },
  });
}

const events = (agent: RunningProcess) =>
  agent.lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Json];
    } catch {
      return [];
    }
  });
const eventNamed = async (agent: RunningProcess, name: string) => {
  await waitUntil(`the agent logs ${name}`, async () => events(agent).some((entry) => entry.event === name));
  return events(agent).find((entry) => entry.event === name)!;
};

describe('the example agent', () => {
  it('when an auction it fits opens, then it bids its cost once, retrying a timed-out bid with the same key, wins, and stops cleanly on SIGTERM', async () => {
    const owner = await account('owner');
    const key = await api('POST', '/api-keys', owner, {
      name: 'example agent',
      scopes: ['agents:write', 'auctions:read', 'bids:write', 'tasks:read', 'tasks:write'],
    });
    const agent = startAgentProcess(String(key.key));
    try {
      const ready = await eventNamed(agent, 'agent.ready');
      const agentId = String(ready.agent_id);
      expect(await api('GET', `/agents/${agentId}`)).toMatchObject({
        name: 'uppercaser',
        capabilities: ['text.uppercase'],
        status: 'online',
      });

      // The first bid's answer is held past the agent's 1 s timeout: the bid is placed upstream,
      // the agent retries it with the same Idempotency-Key and gets that same bid back.
      holdBack = { match: /^POST \/api\/v1\/auctions\/[^/]+\/bids$/, ms: 1_500, held: 0 };
      const requester = await account('requester');
      const auction = await api('POST', '/auctions', requester, {
        capabilities: ['text.uppercase'],
        max_price: 10 * credit,
        duration_seconds: 4,
      });
      const placed = await eventNamed(agent, 'bid.placed');
      expect(placed).toMatchObject({ auction_id: auction.id, price: 3 * credit });
      expect(events(agent).some((entry) => entry.event === 'request.retry')).toBe(true);
      expect((await api('GET', `/auctions/${String(auction.id)}`, requester)).bid_count).toBe(1);

      await waitUntil(
        'the auction closes',
        async () => (await api('GET', `/auctions/${String(auction.id)}`, requester)).status !== 'open',
        15_000,
      );
      const closed = await api('GET', `/auctions/${String(auction.id)}`, requester);
      expect(closed.outcome).toMatchObject({
        winner_agent_id: agentId,
        winner_bid_id: placed.bid_id,
        price: 3 * credit,
      });
      expect(events(agent).filter((entry) => entry.event === 'bid.placed')).toHaveLength(1);
    } finally {
      holdBack = undefined;
      const exited = new Promise<number | null>((resolve) =>
        agent.child.once('exit', (code) => resolve(code)),
      );
      agent.child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(events(agent).at(-1)).toMatchObject({ event: 'agent.stopped', bids: 1 });
    }
  }, 90_000);

  it('when it wins a task, then it does the work and the requester pays for the result; work it cannot do it reports failed and the requester is refunded', async () => {
    const owner = await account('worker');
    const key = await api('POST', '/api-keys', owner, {
      name: 'example agent',
      scopes: ['agents:write', 'auctions:read', 'bids:write', 'tasks:read', 'tasks:write'],
    });
    const agent = startAgentProcess(String(key.key), { AGENT_COST: String(2 * credit) });
    try {
      const agentId = String((await eventNamed(agent, 'agent.ready')).agent_id);
      const requester = await account('payer');
      await api('POST', '/payments/deposit', requester, { amount: 20 * credit });
      const post = (type: string, text: string) =>
        api('POST', '/tasks', requester, {
          type,
          capabilities: ['text.uppercase'],
          input: { text },
          budget: 5 * credit,
          auction: { type: 'second_price', duration_seconds: 2 },
        });
      const done = await post('uppercase', 'hello, world');
      const refused = await post('shout', 'hello');
      const settled = async (id: string, statuses: string[]) => {
        await waitUntil(
          `task ${id} reaches ${statuses.join(' or ')}`,
          async () => statuses.includes(String((await api('GET', `/tasks/${id}`, requester)).status)),
          30_000,
        );
        return api('GET', `/tasks/${id}`, requester);
      };
      const submitted = await settled(String(done.id), ['submitted']);
      expect(submitted).toMatchObject({
        assigned_agent_id: agentId,
        cost: 2 * credit,
        output: { text: 'HELLO, WORLD' },
      });
      expect(await api('POST', `/tasks/${String(done.id)}/accept`, requester, {})).toMatchObject({
        status: 'completed',
      });
      expect(await settled(String(refused.id), ['failed'])).toMatchObject({
        assigned_agent_id: agentId,
        error: 'this agent does not do "shout"',
      });
      await waitUntil('the capture and refunds settle', async () => {
        const balance = await api('GET', '/payments/balance', requester);
        return balance.held === 0;
      });
      expect(await api('GET', '/payments/balance', requester)).toMatchObject({
        available: 18 * credit,
        held: 0,
      });
      expect(await api('GET', '/payments/balance', owner)).toMatchObject({ available: 2 * credit });
    } finally {
      agent.child.kill('SIGTERM');
      await new Promise((resolve) => agent.child.once('exit', resolve));
    }
  }, 90_000);

  it('when started without an API key, then it says what it needs and exits 2', async () => {
    const agent = startAgentProcess('');
    const code = await new Promise<number | null>((resolve) =>
      agent.child.once('exit', (exit) => resolve(exit)),
    );
    expect(code).toBe(2);
    expect(agent.errorLines.join('\n')).toContain('ZS_API_KEY is required');
  });
});
