import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import {
  connectBus,
  createPrincipalSigner,
  type NatsConnection,
  request,
  servicePrincipal,
} from '@zerostate/bus';
import { generateBusKey, parseSigningKeys } from '@zerostate/config';
import { type Principal, paymentEndpoints, reputationEndpoints, taskEvents } from '@zerostate/contracts';
import {
  createTestDatabase,
  freePort,
  type RunningProcess,
  startNatsServer,
  startProcess,
  type TestDatabase,
  type TestServer,
  waitUntil,
} from '@zerostate/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repositoryRoot } from './support/files.js';

/**
 * deploy/nats/permissions.conf on a real nats-server: the payment service runs with its own
 * NATS user (boot, JetStream streams, discovery and replies all within its permissions); the
 * gateway's user may call payment but not escrow, the task user may, and nobody gets in without
 * a user.
 */
const permissionsFile = path.join(repositoryRoot, 'deploy/nats/permissions.conf');
/** A fresh password for every user the file names (each `user:` line). */
const passwords: Record<string, string> = Object.fromEntries(
  [...readFileSync(permissionsFile, 'utf8').matchAll(/^\s*user:\s*(\S+)/gm)].map((match) => [
    match[1]!,
    randomBytes(12).toString('hex'),
  ]),
);
const links = {
  gateway: generateBusKey(),
  task: generateBusKey(),
  auth: generateBusKey(),
  reputation: generateBusKey(),
};
let nats: TestServer;
let database: TestDatabase;
let reputationDatabase: TestDatabase;
let payment: RunningProcess;
let reputation: RunningProcess;
const connections: NatsConnection[] = [];

const connectAs = async (user: string) => {
  const nc = await connectBus({ servers: nats.url, name: `perm-${user}`, user, pass: passwords[user]! });
  connections.push(nc);
  return nc;
};
const signerOf = (issuer: keyof typeof links) =>
  createPrincipalSigner({ issuer, keys: parseSigningKeys(`payment=${links[issuer]}`) });
const user: Principal = {
  kind: 'user',
  user_id: randomUUID(),
  did: `did:zerostate:user:${randomUUID()}`,
  roles: ['user'],
  is_system: false,
};

beforeAll(async () => {
  nats = await startNatsServer({
    jetstream: true,
    configFile: permissionsFile,
    // The file reads each password from the environment (`$GATEWAY_NATS_PASSWORD`, …); NATS
    // parses the value as a config value, so it is quoted.
    env: Object.fromEntries(
      Object.entries(passwords).map(([name, password]) => [
        `${name.toUpperCase()}_NATS_PASSWORD`,
        `"${password}"`,
      ]),
    ),
  });
  database = await createTestDatabase({
    name: 'nats_permissions',
    migrationsDir: path.join(repositoryRoot, 'prisma/payment/migrations'),
  });
  const adminPort = await freePort();
  payment = startProcess('services/payment-channel/src/main.ts', {
    runtime: 'source',
    captureOutput: true,
    env: {
      NODE_ENV: 'test',
      NATS_URL: nats.url,
      NATS_USER: 'payment',
      NATS_PASSWORD: passwords.payment!,
      PAYMENT_DATABASE_URL: database.url,
      PAYMENT_ADMIN_PORT: String(adminPort),
      DB_POOL_MIN_IDLE: '0',
      BUS_TRUSTED_KEYS: `gateway=${links.gateway},task=${links.task},auth=${links.auth}`,
    },
  });
  await waitUntil(
    'the payment service to be ready under its NATS user',
    async () => (await fetch(`http://127.0.0.1:${adminPort}/ready`)).ok,
    60_000,
  );
  reputationDatabase = await createTestDatabase({
    name: 'nats_permissions_reputation',
    migrationsDir: path.join(repositoryRoot, 'prisma/reputation/migrations'),
  });
  const reputationPort = await freePort();
  reputation = startProcess('services/reputation/src/main.ts', {
    runtime: 'source',
    captureOutput: true,
    env: {
      NODE_ENV: 'test',
      NATS_URL: nats.url,
      NATS_USER: 'reputation',
      NATS_PASSWORD: passwords.reputation!,
      REPUTATION_DATABASE_URL: reputationDatabase.url,
      REPUTATION_ADMIN_PORT: String(reputationPort),
      DB_POOL_MIN_IDLE: '0',
      BUS_TRUSTED_KEYS: `gateway=${links.reputation}`,
    },
  });
  await waitUntil(
    'the reputation service to be ready under its NATS user',
    async () => (await fetch(`http://127.0.0.1:${reputationPort}/ready`)).ok,
    60_000,
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
  await payment?.stop();
  await reputation?.stop();
  await nats?.stop();
  await database?.drop();
  await reputationDatabase?.drop();
});

async function escrowRows(): Promise<number> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return Number((await client.query('SELECT count(*) FROM escrows')).rows[0].count);
  } finally {
    await client.end();
  }
}

describe('NATS users from deploy/nats/permissions.conf', () => {
  it('when the gateway user calls the payment service, then it answers', async () => {
    const nc = await connectAs('gateway');
    const balance = await request(
      nc,
      paymentEndpoints.balance,
      {},
      { requestId: randomUUID(), principal: user },
      { signer: signerOf('gateway') },
    );
    expect(balance.owner_did).toBe(user.did);
  });

  it('when the gateway user calls escrow, even for an admin, then NATS refuses it before the service sees it', async () => {
    const nc = await connectAs('gateway');
    // An admin session passes the service's own check (it would answer INSUFFICIENT_FUNDS), so
    // only NATS can be what stops this call.
    const admin: Principal = { ...user, roles: ['user', 'admin'] };
    const hold = request(
      nc,
      paymentEndpoints.holdEscrow,
      { task_id: randomUUID(), payer_did: user.did, amount: 1 },
      { requestId: randomUUID(), principal: admin },
      { signer: signerOf('gateway'), timeoutMs: 2_000 },
    );
    const refused = await hold.then(
      () => undefined,
      (error: { code?: string }) => error.code,
    );
    expect(['SERVICE_UNAVAILABLE', 'UPSTREAM_TIMEOUT']).toContain(refused);
    expect(payment.lines.some((line) => line.includes('"action":"escrow.hold"'))).toBe(false);
    expect(await escrowRows()).toBe(0);
  });

  it('when the task user calls escrow as the task service, then the payment service handles it', async () => {
    const nc = await connectAs('task');
    const hold = request(
      nc,
      paymentEndpoints.holdEscrow,
      { task_id: randomUUID(), payer_did: user.did, amount: 1 },
      { requestId: randomUUID(), principal: servicePrincipal('task') },
      { signer: signerOf('task') },
    );
    // Reached and decided by the service: the payer has no money, so the hold is refused there.
    await expect(hold).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
  });

  it('when the gateway user would close an account, then NATS refuses; the auth user reaches it as auth', async () => {
    const victim: Principal = { ...user, user_id: randomUUID() };
    victim.did = `did:zerostate:user:${victim.user_id}`;
    const fromGateway = await request(
      await connectAs('gateway'),
      paymentEndpoints.closeAccount,
      { owner_did: victim.did },
      { requestId: randomUUID(), principal: { ...user, roles: ['user', 'admin'] } },
      { signer: signerOf('gateway'), timeoutMs: 2_000 },
    ).then(
      () => 'closed',
      (error: { code?: string }) => error.code,
    );
    expect(['SERVICE_UNAVAILABLE', 'UPSTREAM_TIMEOUT']).toContain(fromGateway);
    const fromAuth = await request(
      await connectAs('auth'),
      paymentEndpoints.closeAccount,
      { owner_did: victim.did },
      { requestId: randomUUID(), principal: servicePrincipal('auth') },
      { signer: signerOf('auth') },
    );
    expect(fromAuth.owner_did).toBe(victim.did);
  });

  it('when a client connects without a user, or the gateway user subscribes to svc.>, then NATS refuses', async () => {
    await expect(connectBus({ servers: nats.url, name: 'anonymous' })).rejects.toThrow(/Authorization/i);
    const nc = await connectAs('gateway');
    const errors: unknown[] = [];
    const subscription = nc.subscribe('svc.payment.>', {
      callback: (error) => {
        if (error) errors.push(error);
      },
    });
    await nc.flush().catch(() => undefined);
    await waitUntil(
      'the subscription to be refused',
      async () => subscription.isClosed() || errors.length > 0,
      5_000,
    );
  });

  it('when the task user publishes a task event, then the reputation service consumes it under its own user and the gateway user reads the score', async () => {
    const task = await connectAs('task');
    const agentId = randomUUID();
    const taskId = randomUUID();
    const at = new Date();
    const data = taskEvents.completed.payload.parse({
      task_id: taskId,
      requester_id: randomUUID(),
      agent_id: agentId,
      agent_owner_id: randomUUID(),
      capabilities: ['nlp'],
      budget: 20_000_000,
      timeout_seconds: 100,
      cost: 10_000_000,
      estimated_time_seconds: null,
      started_at: new Date(at.getTime() - 50_000).toISOString(),
      submitted_at: at.toISOString(),
      completed_at: at.toISOString(),
    });
    const id = randomUUID();
    await jetstream(task).publish(
      taskEvents.completed.subject,
      JSON.stringify({ id, type: taskEvents.completed.subject, occurred_at: at.toISOString(), data }),
      { msgID: id, timeout: 5_000 },
    );
    const gateway = await connectAs('gateway');
    const signer = createPrincipalSigner({
      issuer: 'gateway',
      keys: parseSigningKeys(`reputation=${links.reputation}`),
    });
    await waitUntil('the reputation service to apply the event', async () => {
      const view = await request(
        gateway,
        reputationEndpoints.get,
        { agent_id: agentId },
        { requestId: randomUUID() },
        { signer },
      );
      return view.tasks.completed === 1;
    });
  });
});
