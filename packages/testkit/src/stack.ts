import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase } from './database.js';
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

export interface RunningStack {
  baseUrl: string;
  authAdminUrl: string;
  natsUrl: string;
  databaseUrl: string;
  gateway: RunningProcess;
  /** The current auth process (a new one after `restartAuth`). */
  readonly auth: RunningProcess;
  restartAuth(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The whole system as separate processes, isolated from everything else on the machine: its own
 * nats-server, a fresh migrated database per service, a unique Redis key prefix and free ports.
 * Resolves once the gateway's /ready says every service answers. Add a service here when it lands.
 */
export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const nats = await startNatsServer({ jetstream: true });
  const database = await createTestDatabase({
    name: 'stack_auth',
    migrationsDir: join(repositoryRoot, 'prisma/auth/migrations'),
  });
  const [gatewayPort, authAdminPort] = [await freePort(), await freePort()];
  const runtime = options.runtime ?? 'source';
  const processOptions: ProcessOptions = {
    runtime,
    captureOutput: options.captureOutput ?? true,
    ...(options.nodeBinary ? { nodeBinary: options.nodeBinary } : {}),
    env: {
      NODE_ENV: 'test',
      NATS_URL: nats.url,
      AUTH_DATABASE_URL: database.url,
      AUTH_ADMIN_PORT: String(authAdminPort),
      AUTH_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(gatewayPort),
      REDIS_KEY_PREFIX: `${uniqueName('stack')}:`,
      DB_POOL_MAX: '10',
      DB_POOL_MIN_IDLE: '1',
      LOG_LEVEL: 'info',
      ...options.env,
    },
  };
  const entry = (app: string) => (runtime === 'source' ? `${app}/src/main.ts` : `${app}/dist/main.js`);
  let auth = startProcess(entry('services/auth'), processOptions);
  const gateway = startProcess(entry('gateway'), processOptions);
  const baseUrl = `http://127.0.0.1:${gatewayPort}`;
  const ready = () => waitUntil('gateway ready', async () => (await fetch(`${baseUrl}/ready`)).ok);
  try {
    await ready();
  } catch (error) {
    await Promise.all([gateway.stop(), auth.stop()]);
    await nats.stop();
    await database.drop();
    throw error;
  }
  return {
    baseUrl,
    authAdminUrl: `http://127.0.0.1:${authAdminPort}`,
    natsUrl: nats.url,
    databaseUrl: database.url,
    gateway,
    get auth() {
      return auth;
    },
    restartAuth: async () => {
      auth = startProcess(entry('services/auth'), processOptions);
      await ready();
    },
    stop: async () => {
      await Promise.all([gateway.stop(), auth.stop()]);
      await nats.stop();
      await database.drop();
    },
  };
}
