import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { deriveBusKey, listServices, type ServiceDescription } from '@zerostate/config';
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
    // Links gateway → service for this stack alone, derived from a secret nobody else sees: each
    // service gets only its own link, the gateway all of them.
    const busSecret = randomBytes(32);
    const linkOf = (service: ServiceDescription) => deriveBusKey(busSecret, 'gateway', service.bus);
    const processOptions: ProcessOptions = {
      runtime,
      captureOutput: options.captureOutput ?? true,
      ...(options.nodeBinary ? { nodeBinary: options.nodeBinary } : {}),
      env: {
        NODE_ENV: 'test',
        NATS_URL: nats.url,
        ...serviceEnv,
        AUTH_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        BUS_SIGNING_KEYS: plan
          .map(({ description }) => `${description.bus}=${linkOf(description)}`)
          .join(','),
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
    const ready = () => waitUntil('gateway ready', async () => (await fetch(`${baseUrl}/ready`)).ok);
    const services: Record<string, StackService> = {};
    plan.forEach(({ description }, index) => {
      const start = () =>
        startProcess(entry(description.folder), {
          ...processOptions,
          env: { ...processOptions.env, BUS_TRUSTED_KEYS: `gateway=${linkOf(description)}` },
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
    const gateway = startProcess(entry('gateway'), processOptions);
    stopAll.push(() => gateway.stop());
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
    return { baseUrl, natsUrl: nats.url, gateway, services, stop };
  } catch (error) {
    if (stopAll.length === 0) {
      await nats.stop();
      await Promise.all(databases.map((database) => database.drop()));
    }
    throw error;
  }
}
