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
  paymentAdminUrl: string;
  natsUrl: string;
  /** The auth service's database. */
  databaseUrl: string;
  paymentDatabaseUrl: string;
  gateway: RunningProcess;
  /** The current auth process (a new one after `restartAuth`). */
  readonly auth: RunningProcess;
  /** The current payment-channel process (a new one after `restartPayment`). */
  readonly payment: RunningProcess;
  /** Starts a new auth process (stopping the current one first if it still runs). */
  restartAuth(): Promise<void>;
  /** Starts a new payment-channel process (stopping the current one first if it still runs). */
  restartPayment(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The whole system as separate processes, isolated from everything else on the machine: its own
 * nats-server, a fresh migrated database per service, a unique Redis key prefix and free ports.
 * Resolves once the gateway's /ready says every service answers. Add a service here when it lands.
 */
export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const nats = await startNatsServer({ jetstream: true });
  const [authDatabase, paymentDatabase] = await Promise.all([
    createTestDatabase({ name: 'stack_auth', migrationsDir: join(repositoryRoot, 'prisma/auth/migrations') }),
    createTestDatabase({
      name: 'stack_payment',
      migrationsDir: join(repositoryRoot, 'prisma/payment/migrations'),
    }),
  ]);
  const [gatewayPort, authAdminPort, paymentAdminPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const runtime = options.runtime ?? 'source';
  const processOptions: ProcessOptions = {
    runtime,
    captureOutput: options.captureOutput ?? true,
    ...(options.nodeBinary ? { nodeBinary: options.nodeBinary } : {}),
    env: {
      NODE_ENV: 'test',
      NATS_URL: nats.url,
      AUTH_DATABASE_URL: authDatabase.url,
      AUTH_ADMIN_PORT: String(authAdminPort),
      AUTH_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      PAYMENT_DATABASE_URL: paymentDatabase.url,
      PAYMENT_ADMIN_PORT: String(paymentAdminPort),
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
  const startAuth = () => startProcess(entry('services/auth'), processOptions);
  const startPayment = () => startProcess(entry('services/payment-channel'), processOptions);
  let auth = startAuth();
  let payment = startPayment();
  const gateway = startProcess(entry('gateway'), processOptions);
  const baseUrl = `http://127.0.0.1:${gatewayPort}`;
  const ready = () => waitUntil('gateway ready', async () => (await fetch(`${baseUrl}/ready`)).ok);
  const stop = async () => {
    await Promise.all([gateway.stop(), auth.stop(), payment.stop()]);
    await nats.stop();
    await Promise.all([authDatabase.drop(), paymentDatabase.drop()]);
  };
  try {
    await ready();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    baseUrl,
    authAdminUrl: `http://127.0.0.1:${authAdminPort}`,
    paymentAdminUrl: `http://127.0.0.1:${paymentAdminPort}`,
    natsUrl: nats.url,
    databaseUrl: authDatabase.url,
    paymentDatabaseUrl: paymentDatabase.url,
    gateway,
    get auth() {
      return auth;
    },
    get payment() {
      return payment;
    },
    restartAuth: async () => {
      await auth.stop();
      auth = startAuth();
      await ready();
    },
    restartPayment: async () => {
      await payment.stop();
      payment = startPayment();
      await ready();
    },
    stop,
  };
}
