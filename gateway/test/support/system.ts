import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createTestDatabase, freePort, startNatsServer, uniqueName } from '@zerostate/testkit';
import { type RunningProcess, repositoryRoot, startProcess, waitUntil } from './processes.js';

export interface RunningSystem {
  baseUrl: string;
  authAdminUrl: string;
  natsUrl: string;
  databaseUrl: string;
  gateway: RunningProcess;
  auth: RunningProcess;
  /** Starts the auth service again after `auth.stop()`. */
  restartAuth(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the real auth service and gateway as separate processes against their own nats-server,
 * database and Redis key prefix, and waits until the gateway reports ready.
 */
export async function startSystem(options: { env?: Record<string, string> } = {}): Promise<RunningSystem> {
  const nats = await startNatsServer({ jetstream: true });
  const database = await createTestDatabase({
    name: 'e2e_auth',
    migrationsDir: join(repositoryRoot, 'prisma/auth/migrations'),
  });
  const [gatewayPort, authAdminPort] = [await freePort(), await freePort()];
  const env: Record<string, string> = {
    NATS_URL: nats.url,
    AUTH_DATABASE_URL: database.url,
    AUTH_ADMIN_PORT: String(authAdminPort),
    AUTH_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(gatewayPort),
    REDIS_KEY_PREFIX: `${uniqueName('e2e')}:`,
    DB_POOL_MAX: '10',
    DB_POOL_MIN_IDLE: '1',
    LOG_LEVEL: 'info',
    ...options.env,
  };
  let auth = startProcess('services/auth/src/main.ts', env);
  const gateway = startProcess('gateway/src/main.ts', env);
  const baseUrl = `http://127.0.0.1:${gatewayPort}`;
  const ready = () => waitUntil('gateway ready', async () => (await fetch(`${baseUrl}/ready`)).ok);
  await ready();
  const system: RunningSystem = {
    baseUrl,
    authAdminUrl: `http://127.0.0.1:${authAdminPort}`,
    natsUrl: nats.url,
    databaseUrl: database.url,
    gateway,
    get auth() {
      return auth;
    },
    restartAuth: async () => {
      auth = startProcess('services/auth/src/main.ts', env);
      await ready();
    },
    stop: async () => {
      await Promise.all([gateway.stop(), auth.stop()]);
      await nats.stop();
      await database.drop();
    },
  };
  return system;
}
