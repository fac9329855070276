import { randomUUID } from 'node:crypto';
import { connectBus, generateBusTrust, type NatsConnection, request, servicePrincipal } from '@zerostate/bus';
import {
  type Endpoint,
  type Principal,
  paymentEndpoints,
  type RequestOf,
  type Scope,
} from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { createLogger, createRegistry, type Registry } from '@zerostate/observability';
import { createService, type ServiceOf } from '@zerostate/service-kit';
import {
  createTestDatabase,
  startNatsServer,
  type TestDatabase,
  type TestServer,
  undeclaredErrorsIn,
} from '@zerostate/testkit';
import pg from 'pg';
import type { z } from 'zod';
import { paymentMigrationsDir } from '../src/migrate.js';
import paymentService from '../src/service.js';

export type PaymentService = ServiceOf<typeof paymentService>;

/** One payment service on its own test database and nats-server, called as the gateway does. */
export interface Harness {
  /** The gateway key pair the service trusts (tests forge principals against it). */
  trust: ReturnType<typeof generateBusTrust>;
  /** The environment the service was started with (start more replicas with it). */
  env: Record<string, string>;
  config: PaymentService['config'];
  service: PaymentService;
  registry: Registry;
  nc: NatsConnection;
  natsServer: TestServer;
  /** Direct access for assertions on stored rows. */
  db: pg.Pool;
  databaseUrl: string;
  call<E extends Endpoint>(
    endpoint: E,
    input: RequestOf<E>,
    principal?: Principal,
    options?: { idempotencyKey?: string },
  ): Promise<z.output<E['response']>>;
  /** The error code a call fails with; throws if the call succeeds. */
  failure<E extends Endpoint>(
    endpoint: E,
    input: RequestOf<E>,
    principal?: Principal,
    options?: { idempotencyKey?: string },
  ): Promise<string>;
  /** A fresh user holding `amount` micro-credits. */
  funded(amount: number): Promise<Principal>;
  /** The transfers of a channel or task: `{kind, amount}` ordered by kind. */
  transfersOf(referenceId: string): Promise<{ kind: string; amount: string }[]>;
  /** SPEC §4.2: throws, listing them, unless an admin's reconciliation finds no violation. */
  expectReconciled(): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(options: {
  name: string;
  env?: Record<string, string>;
}): Promise<Harness> {
  const database: TestDatabase = await createTestDatabase({
    name: options.name,
    migrationsDir: paymentMigrationsDir,
  });
  const natsServer = await startNatsServer({ jetstream: true });
  // The gateway's key for this harness only: calls below are signed as the gateway signs them,
  // and calls as a service (task, auth) with that service's own key.
  const trust = generateBusTrust('payment');
  const serviceTrust = new Map(
    ['task', 'auth'].map((service) => [service, generateBusTrust('payment', service)]),
  );
  const env = {
    NODE_ENV: 'test',
    BUS_TRUSTED_KEYS: [trust, ...serviceTrust.values()].map((link) => link.trustedKeys).join(','),
    LOG_LEVEL: 'silent',
    PAYMENT_DATABASE_URL: database.url,
    NATS_URL: natsServer.url,
    PAYMENT_ADMIN_PORT: '0',
    DB_POOL_MAX: '20',
    DB_POOL_MIN_IDLE: '0',
    ...options.env,
  };
  const nc = await connectBus({ servers: natsServer.url, name: `test-${options.name}` });
  const registry = createRegistry('payment');
  const service = createService(paymentService, {
    env,
    logger: createLogger({ service: 'payment-channel', level: 'silent' }),
    registry,
    nc,
  });
  const { config } = service;
  await service.start();
  const db = new pg.Pool({ connectionString: database.url, max: 3 });
  // Dropping the test database can kill idle connections after end(); that must not crash the run.
  db.on('error', () => undefined);
  const call: Harness['call'] = (endpoint, input, principal, callOptions) =>
    request(
      nc,
      endpoint,
      input,
      {
        requestId: randomUUID(),
        principal,
        clientIp: '203.0.113.7',
        userAgent: 'vitest',
        idempotencyKey: callOptions?.idempotencyKey,
      },
      { signer: (principal?.service ? serviceTrust.get(principal.service) : trust)!.signer },
    );
  return {
    trust,
    env,
    config,
    service,
    registry,
    nc,
    natsServer,
    db,
    databaseUrl: database.url,
    call,
    failure: async (endpoint, input, principal, callOptions) => {
      try {
        await call(endpoint, input, principal, callOptions);
      } catch (error) {
        if (error instanceof AppError) return error.code;
        throw error;
      }
      throw new Error(`expected ${endpoint.subject} to fail, but it succeeded`);
    },
    funded: async (amount) => {
      const user = userPrincipal();
      await call(paymentEndpoints.deposit, { amount }, user);
      return user;
    },
    transfersOf: async (referenceId) =>
      (
        await db.query('SELECT kind, amount FROM transfers WHERE reference_id = $1 ORDER BY kind', [
          referenceId,
        ])
      ).rows,
    expectReconciled: async () => {
      const report = await call(paymentEndpoints.reconcile, {}, userPrincipal({ admin: true }));
      if (!report.ok) throw new Error(`ledger invariants violated: ${JSON.stringify(report.violations)}`);
    },
    stop: async () => {
      const undeclared = await undeclaredErrorsIn(registry);
      await service.stop();
      await db.end();
      await nc.close();
      await natsServer.stop();
      await database.drop();
      if (undeclared.length > 0) {
        throw new Error(`handlers answered codes their contracts do not declare: ${undeclared.join(', ')}`);
      }
    },
  };
}

/** A signed-in user, as the gateway forwards one; `scopes` makes it an API key instead. */
export function userPrincipal(options: { admin?: boolean; scopes?: Scope[] } = {}): Principal {
  const userId = randomUUID();
  return {
    kind: options.scopes ? 'api_key' : 'user',
    user_id: userId,
    did: `did:zerostate:user:${userId}`,
    roles: options.admin ? ['user', 'admin'] : ['user'],
    is_system: false,
    ...(options.scopes ? { scopes: options.scopes, api_key_id: randomUUID() } : {}),
  };
}

/** The task service acting as itself: the one service the escrow contracts let call them. */
export function taskService(): Principal {
  return servicePrincipal('task');
}

/** The auth service acting as itself: the one caller of account close and export. */
export function authService(): Principal {
  return servicePrincipal('auth');
}

export const credits = (amount: number) => amount * 1_000_000;

/** Row counts and sums read straight from the database. */
export async function scalar(db: pg.Pool, sql: string, parameters: unknown[] = []): Promise<string> {
  const result = await db.query(sql, parameters);
  return String(Object.values(result.rows[0] ?? {})[0]);
}
