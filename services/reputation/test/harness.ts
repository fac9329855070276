import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { headers as createHeaders } from '@nats-io/nats-core';
import { connectBus, generateBusTrust, type NatsConnection, request } from '@zerostate/bus';
import type { Endpoint, EventContract, Principal, RequestOf, Scope } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { createLogger, createRegistry, type Registry } from '@zerostate/observability';
import { createService, type ServiceOf } from '@zerostate/service-kit';
import { migrationsDirOf } from '@zerostate/service-kit/migrate';
import {
  createTestDatabase,
  metricValue,
  startNatsServer,
  type TestDatabase,
  type TestServer,
  undeclaredErrorsIn,
  waitUntil,
} from '@zerostate/testkit';
import pg from 'pg';
import type { z } from 'zod';
import { reputationService } from '../src/service.js';

export type ReputationService = ServiceOf<ReturnType<typeof reputationService>>;

/** A clock the test moves by hand: decay is tested by moving it, never by waiting. */
export interface TestClock {
  now(): Date;
  set(at: Date): void;
  advanceDays(days: number): void;
}

export function testClock(start = new Date('2026-06-01T00:00:00.000Z')): TestClock {
  let current = start;
  return {
    now: () => current,
    set: (at) => {
      current = at;
    },
    advanceDays: (days) => {
      current = new Date(current.getTime() + days * 86_400_000);
    },
  };
}

/** One reputation service on its own test database and nats-server (with JetStream), called as the gateway does. */
export interface Harness {
  env: Record<string, string>;
  clock: TestClock;
  service: ReputationService;
  registry: Registry;
  nc: NatsConnection;
  natsServer: TestServer;
  db: pg.Pool;
  call<E extends Endpoint>(
    endpoint: E,
    input: RequestOf<E>,
    principal?: Principal,
    options?: { idempotencyKey?: string },
  ): Promise<z.output<E['response']>>;
  failure<E extends Endpoint>(
    endpoint: E,
    input: RequestOf<E>,
    principal?: Principal,
    options?: { idempotencyKey?: string },
  ): Promise<string>;
  /** Publishes an event as the producers' outbox relay does; returns its event id. */
  publish<P extends z.ZodType>(
    event: EventContract<P>,
    data: z.input<P>,
    options?: { id?: string; messageId?: string },
  ): Promise<string>;
  /** Resolves once the consumer `name` has settled `count` deliveries (applied or duplicate) in total. */
  settled(name: string, count: number): Promise<void>;
  /** Starts another service instance on the same database and NATS (a restart or a replica). */
  startAnother(): Promise<ReputationService>;
  stop(): Promise<void>;
}

export async function startHarness(options: {
  name: string;
  env?: Record<string, string>;
}): Promise<Harness> {
  const database: TestDatabase = await createTestDatabase({
    name: options.name,
    migrationsDir: migrationsDirOf(new URL('../package.json', import.meta.url)),
  });
  const natsServer = await startNatsServer({ jetstream: true });
  const trust = generateBusTrust('reputation');
  const env = {
    NODE_ENV: 'test',
    BUS_TRUSTED_KEYS: trust.trustedKeys,
    LOG_LEVEL: 'silent',
    REPUTATION_DATABASE_URL: database.url,
    NATS_URL: natsServer.url,
    REPUTATION_ADMIN_PORT: '0',
    DB_POOL_MAX: '10',
    DB_POOL_MIN_IDLE: '0',
    ...options.env,
  };
  const clock = testClock();
  const nc = await connectBus({ servers: natsServer.url, name: `test-${options.name}` });
  const registries: Registry[] = [];
  const services: ReputationService[] = [];
  const build = async () => {
    const registry = createRegistry('reputation');
    const service = createService(reputationService({ clock: clock.now }), {
      env,
      logger: createLogger({ service: 'reputation', level: 'silent' }),
      registry,
      nc,
      // Events a stopped instance had pulled come back within a second instead of 30 s.
      consumerSettings: { ackWaitMs: 1_000 },
    });
    await service.start();
    registries.push(registry);
    services.push(service);
    return service;
  };
  const service = await build();
  const registry = registries[0]!;
  const db = new pg.Pool({ connectionString: database.url, max: 3 });
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
      { signer: trust.signer },
    );
  const settledCount = async (name: string) => {
    let total = 0;
    for (const each of registries) {
      for (const outcome of ['applied', 'duplicate']) {
        total += await metricValue(each, 'events_processed_total', { consumer: name, outcome });
      }
    }
    return total;
  };
  return {
    env,
    clock,
    service,
    registry,
    nc,
    natsServer,
    db,
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
    publish: async (event, data, publishOptions) => {
      const id = publishOptions?.id ?? randomUUID();
      const envelope = {
        id,
        type: event.subject,
        occurred_at: new Date().toISOString(),
        data: event.payload.parse(data),
      };
      await jetstream(nc).publish(event.subject, JSON.stringify(envelope), {
        msgID: publishOptions?.messageId ?? id,
        headers: createHeaders(),
        timeout: 5_000,
      });
      return id;
    },
    settled: (name, count) =>
      waitUntil(`${name} to settle ${count} deliveries`, async () => (await settledCount(name)) >= count),
    startAnother: build,
    stop: async () => {
      const undeclared = (await Promise.all(registries.map((each) => undeclaredErrorsIn(each)))).flat();
      for (const each of services) await each.stop().catch(() => undefined);
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
export function userPrincipal(options: { admin?: boolean; scopes?: Scope[]; id?: string } = {}): Principal {
  const userId = options.id ?? randomUUID();
  return {
    kind: options.scopes ? 'api_key' : 'user',
    user_id: userId,
    did: `did:zerostate:user:${userId}`,
    roles: options.admin ? ['user', 'admin'] : ['user'],
    is_system: false,
    ...(options.scopes ? { scopes: options.scopes, api_key_id: randomUUID() } : {}),
  };
}

export const credits = (amount: number) => amount * 1_000_000;
