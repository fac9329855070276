import { randomBytes, randomUUID } from 'node:crypto';
import { type RunningStack, startStack, waitUntil } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { call } from './support/http.js';
import { type Caller, expectError, paymentsClient } from './support/payments.js';

/**
 * The agent registry over HTTP (SPEC §5b "Agents"): gateway, auth and auction as processes.
 * Heartbeats are every 300 ms here, so "three missed" is under a second.
 */
let system: RunningStack;
const client = paymentsClient(() => system);
let alice: Caller;
let bob: Caller;

beforeAll(async () => {
  system = await startStack({
    env: {
      BCRYPT_COST: '4',
      RATE_LIMIT_CAPACITY: '10000',
      RATE_LIMIT_REFILL_PER_MINUTE: '100000',
      LOGIN_LIMIT_PER_IP_PER_MINUTE: '1000',
      AGENT_HEARTBEAT_INTERVAL_MS: '300',
    },
  });
  [alice, bob] = await Promise.all([client.register('alice'), client.register('bob')]);
});
afterAll(async () => {
  await system?.stop();
});

const api = (method: string, path: string, options: Parameters<typeof call>[3] = {}) =>
  call(system.baseUrl, method, `/api/v1${path}`, options);

interface AgentView {
  id: string;
  did: string;
  owner_id: string;
  status: string;
  reputation: number;
  capabilities: string[];
}

async function register(owner: Caller, body: Record<string, unknown> = {}): Promise<AgentView> {
  const response = await api('POST', '/agents', {
    token: owner.token,
    body: { name: 'summariser', capabilities: ['text.summary'], price_per_task: 1_000_000, ...body },
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body as unknown as AgentView;
}

describe('when an agent is registered', () => {
  test('then it is online, owned by the caller, at reputation 50, with a platform DID', async () => {
    const agent = await register(alice, { region: 'eu-west', metadata: { model: 'small' } });
    expect(agent).toMatchObject({ status: 'online', reputation: 50, did: `did:zerostate:agent:${agent.id}` });
    const me = await api('GET', '/users/me', { token: alice.token });
    expect(agent.owner_id).toBe(me.body.id);
    const read = await api('GET', `/agents/${agent.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: agent.id, region: 'eu-west', metadata: { model: 'small' } });
  });

  test('then an Ed25519 public key gives it a did:key, and the same key twice is CONFLICT', async () => {
    const publicKey = randomBytes(32).toString('base64url');
    const agent = await register(alice, { public_key: publicKey });
    expect(agent.did).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/);
    const again = await api('POST', '/agents', {
      token: bob.token,
      body: { name: 'copy', capabilities: ['x'], price_per_task: 1, public_key: publicKey },
    });
    expectError(again, 409, 'CONFLICT');
  });

  test('then bad fields are 400 and nothing is registered', async () => {
    const bad = [
      { capabilities: ['a', 'a'] },
      { capabilities: ['Upper Case'] },
      { capabilities: [] },
      { price_per_task: -1 },
      { price_per_task: 1.5 },
      { max_capacity: 1_001 },
      { metadata: { blob: 'x'.repeat(5_000) } },
      { public_key: 'too-short' },
      { name: '' },
    ];
    for (const change of bad) {
      const response = await api('POST', '/agents', {
        token: alice.token,
        body: { name: 'bad', capabilities: ['text.bad'], price_per_task: 1, ...change },
      });
      expectError(response, 400, 'VALIDATION_FAILED');
    }
    const listed = await api('GET', '/agents?capabilities=text.bad');
    expect(listed.body.items).toEqual([]);
  });

  test('then anonymous callers and API keys without agents:write cannot register', async () => {
    const body = { name: 'x', capabilities: ['x'], price_per_task: 1 };
    expectError(await api('POST', '/agents', { body }), 401, 'UNAUTHENTICATED');
    const readOnly = await client.apiKey(alice, ['agents:read']);
    expectError(await api('POST', '/agents', { apiKey: readOnly, body }), 403, 'INSUFFICIENT_SCOPE');
    const writer = await client.apiKey(alice, ['agents:write']);
    expect((await api('POST', '/agents', { apiKey: writer, body })).status).toBe(201);
  });
});

describe('when someone writes to an agent', () => {
  test('then the owner may change it, anyone else gets 404 and nothing changes', async () => {
    const agent = await register(alice);
    const changed = await api('PATCH', `/agents/${agent.id}`, {
      token: alice.token,
      body: { price_per_task: 2_000_000, capabilities: ['text.summary', 'text.upper'] },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      price_per_task: 2_000_000,
      capabilities: ['text.summary', 'text.upper'],
    });
    for (const [method, path, body] of [
      ['PATCH', `/agents/${agent.id}`, { name: 'stolen' }],
      ['DELETE', `/agents/${agent.id}`, undefined],
      ['POST', `/agents/${agent.id}/heartbeat`, undefined],
    ] as const) {
      expectError(await api(method, path, { token: bob.token, ...(body ? { body } : {}) }), 404, 'NOT_FOUND');
    }
    expect((await api('GET', `/agents/${agent.id}`)).body).toMatchObject({ name: 'summariser' });
    expectError(await api('GET', `/agents/${randomUUID()}`), 404, 'NOT_FOUND');
  });

  test('then a deleted agent is offline for good: heartbeats and changes are CONFLICT, search skips it', async () => {
    const tag = `cap.${randomUUID().slice(0, 8)}`;
    const agent = await register(alice, { capabilities: [tag] });
    const deleted = await api('DELETE', `/agents/${agent.id}`, { token: alice.token });
    expect(deleted.status).toBe(204);
    expect((await api('DELETE', `/agents/${agent.id}`, { token: alice.token })).status).toBe(204);
    expect((await api('GET', `/agents/${agent.id}`)).body).toMatchObject({ status: 'offline' });
    expectError(await api('POST', `/agents/${agent.id}/heartbeat`, { token: alice.token }), 409, 'CONFLICT');
    expectError(
      await api('PATCH', `/agents/${agent.id}`, { token: alice.token, body: { name: 'x' } }),
      409,
      'CONFLICT',
    );
    expect((await api('GET', `/agents?capabilities=${tag}`)).body.items).toEqual([]);
  });
});

describe('when heartbeats stop', () => {
  test('then after three missed intervals the agent is offline, and a heartbeat brings it back', async () => {
    const agent = await register(alice);
    await waitUntil(
      'the agent goes offline',
      async () => (await api('GET', `/agents/${agent.id}`)).body.status === 'offline',
      10_000,
    );
    const back = await api('POST', `/agents/${agent.id}/heartbeat`, { token: alice.token });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ status: 'online' });
  });
});

describe('when agents are searched', () => {
  test('then only agents holding every requested capability are found', async () => {
    const tag = `cap.${randomUUID().slice(0, 8)}`;
    const both = await register(alice, { capabilities: [tag, 'text.upper'] });
    await register(bob, { capabilities: [tag] });
    const found = await api('GET', `/agents?capabilities=${tag},text.upper`);
    expect((found.body.items as AgentView[]).map((item) => item.id)).toEqual([both.id]);
    const minimum = await api('GET', `/agents?capabilities=${tag}&min_reputation=50.01`);
    expect(minimum.body.items).toEqual([]);
    expectError(await api('GET', '/agents?min_reputation=101'), 400, 'VALIDATION_FAILED');
    expectError(await api('GET', '/agents?cursor=nonsense'), 400, 'VALIDATION_FAILED');
  });

  test('then pages have no repeats and no gaps while agents are being added', async () => {
    const tag = `cap.${randomUUID().slice(0, 8)}`;
    const original: string[] = [];
    for (let index = 0; index < 7; index += 1) {
      original.push(
        (await register(index % 2 ? alice : bob, { capabilities: [tag], max_capacity: 1 + index })).id,
      );
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await api(
        'GET',
        `/agents?capabilities=${tag}&limit=3${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      seen.push(...(page.body.items as AgentView[]).map((item) => item.id));
      cursor = page.body.next_cursor as string | null;
      await register(alice, { capabilities: [tag] });
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of original) expect(seen).toContain(id);
  });
});
