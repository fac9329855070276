import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { busKeySettingsOf, listServices, type ServiceDescription } from '@zerostate/config';
import { createTestDatabase, type TestDatabase } from './database.js';
import { freePort, uniqueName } from './names.js';
import {
  type ProcessOptions,
  type RunningProcess,
  repositoryRoot,
  startProcess,
  waitUntil,
} from './processes.js';
import { startNatsServer } from './servers.js';

export interface StackOptions extends Partial<Omit<ProcessOptions, 'env'>> {
  /** Environment for every process, over the stack's own (ports, URLs, secrets). */
  env?: Record<string, string>;
}

/** One service of a running stack. */
export interface StackService {
  description: ServiceDescription;
  /** `http://127.0.0.1:<admin port>` (/health, /ready, /metrics). */
  adminUrl: string;
  databaseUrl: string;
  /** The current process (a new one after `restart`). */
  readonly process: RunningProcess;
  /** Starts a new process (stopping the current one first if it still runs) and waits for /ready. */
  restart(): Promise<void>;
}

export interface RunningStack {
  baseUrl: string;
  natsUrl: string;
  gateway: RunningProcess;
  /** Every service under services/, by folder name (`stack.services.auth`, `['payment-channel']`). */
  services: Record<string, StackService>;
  /** Starts one more gateway replica on the same NATS, Redis and links; stopped with the stack. */
  addGateway(): Promise<{ baseUrl: string; process: RunningProcess }>;
  stop(): Promise<void>;
}

/**
 * What the stack gives each service found under `<root>/services`: its migrations and the
 * environment variables its description names. Tests of the recipe call it on a scratch root.
 */
export function stackPlan(
  root: string = repositoryRoot,
): { description: ServiceDescription; migrationsDir: string }[] {
  return listServices(root).map((description) => ({
    description,
    migrationsDir: join(root, description.migrationsFolder),
  }));
}

/**
 * The whole system as separate processes, isolated from everything else on the machine: its own
 * nats-server, a fresh migrated database per service, a unique Redis key prefix and free ports.
 * Every service under services/ is started from its description; resolves once the gateway's
 * /ready says every one answers.
 */
export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const nats = await startNatsServer({ jetstream: true });
  const plan = stackPlan();
  const databases: TestDatabase[] = [];
  const stopAll: (() => Promise<void>)[] = [];
  const runtime = options.runtime ?? 'source';
  const entry = (app: string) => (runtime === 'source' ? `${app}/src/main.ts` : `${app}/dist/main.js`);
  try {
    const ports = new Map<string, number>();
    const serviceEnv: Record<string, string> = {};
    for (const { description, migrationsDir } of plan) {
      const database = await createTestDatabase({ name: `stack_${description.bus}`, migrationsDir });
      databases.push(database);
      const port = await freePort();
      ports.set(description.name, port);
      serviceEnv[description.databaseVariable] = database.url;
      serviceEnv[description.adminPortVariable] = String(port);
    }
    const gatewayPort = await freePort();
    // Links for this stack alone (gateway → each service, each service → those it calls), derived
    // from a secret nobody else sees: each process gets only its own links.
    const busLinks = busKeySettingsOf(
      plan.map(({ description }) => description),
      randomBytes(32),
    );
    const processOptions: ProcessOptions = {
      runtime,
      captureOutput: options.captureOutput ?? true,
      ...(options.nodeBinary ? { nodeBinary: options.nodeBinary } : {}),
      env: {
        NODE_ENV: 'test',
        NATS_URL: nats.url,
        ...serviceEnv,
        AUTH_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(gatewayPort),
        READY_SERVICES: plan.map(({ description }) => description.bus).join(','),
        REDIS_KEY_PREFIX: `${uniqueName('stack')}:`,
        DB_POOL_MAX: '10',
        DB_POOL_MIN_IDLE: '1',
        LOG_LEVEL: 'info',
        ...options.env,
      },
    };
    const baseUrl = `http://127.0.0.1:${gatewayPort}`;
    // Every service from source on two shared cores: allow for a slow start, not for a hang.
    const ready = () => waitUntil('gateway ready', async () => (await fetch(`${baseUrl}/ready`)).ok, 90_000);
    const services: Record<string, StackService> = {};
    plan.forEach(({ description }, index) => {
      const start = () =>
        startProcess(entry(description.folder), {
          ...processOptions,
          env: { ...processOptions.env, ...busLinks.get(description.bus), ...options.env },
        });
      let current = start();
      stopAll.push(() => current.stop());
      services[description.name] = {
        description,
        adminUrl: `http://127.0.0.1:${ports.get(description.name)}`,
        databaseUrl: databases[index]!.url,
        get process() {
          return current;
        },
        restart: async () => {
          await current.stop();
          current = start();
          await ready();
        },
      };
    });
    const gatewayEnv = { ...processOptions.env, ...busLinks.get('gateway'), ...options.env };
    const gateway = startProcess(entry('gateway'), { ...processOptions, env: gatewayEnv });
    stopAll.push(() => gateway.stop());
    const addGateway = async () => {
      const port = await freePort();
      const replica = startProcess(entry('gateway'), {
        ...processOptions,
        env: { ...gatewayEnv, GATEWAY_PORT: String(port) },
      });
      stopAll.push(() => replica.stop());
      const replicaUrl = `http://127.0.0.1:${port}`;
      await waitUntil('gateway replica ready', async () => (await fetch(`${replicaUrl}/ready`)).ok);
      return { baseUrl: replicaUrl, process: replica };
    };
    const stop = async () => {
      await Promise.all(stopAll.map((stopOne) => stopOne()));
      await nats.stop();
      await Promise.all(databases.map((database) => database.drop()));
    };
    try {
      await ready();
    } catch (error) {
      await stop();
      throw error;
    }
    return { baseUrl, natsUrl: nats.url, gateway, services, addGateway, stop };
  } catch (error) {
    if (stopAll.length === 0) {
      await nats.stop();
      await Promise.all(databases.map((database) => database.drop()));
    }
    throw error;
  }
}
