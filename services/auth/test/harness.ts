import { randomBytes, randomUUID } from 'node:crypto';
import { connectBus, generateBusTrust, type NatsConnection, request } from '@zerostate/bus';
import type { Endpoint, Principal, RequestOf } from '@zerostate/contracts';
import { createLogger, createRegistry, type Registry } from '@zerostate/observability';
import { createService, type ServiceOf } from '@zerostate/service-kit';
import {
  createTestDatabase,
  startNatsServer,
  type TestDatabase,
  type TestServer,
  undeclaredErrorsIn,
} from '@zerostate/testkit';
import { decodeJwt } from 'jose';
import pg from 'pg';
import type { z } from 'zod';
import { authMigrationsDir as migrationsDir } from '../src/migrate.js';
import authService from '../src/service.js';

export type AuthService = ServiceOf<typeof authService>;

/** One auth service on its own test database and its own nats-server, called as the gateway does. */
export interface Harness {
  /** The gateway key pair the service trusts (tests forge principals against it). */
  trust: ReturnType<typeof generateBusTrust>;
  config: AuthService['config'];
  service: AuthService;
  registry: Registry;
  nc: NatsConnection;
  natsServer: TestServer;
  /** Direct access for assertions on stored rows. */
  db: pg.Pool;
  call<E extends Endpoint>(
    endpoint: E,
    input: RequestOf<E>,
    principal?: Principal,
  ): Promise<z.output<E['response']>>;
  stop(): Promise<void>;
}

export async function startHarness(options: {
  name: string;
  env?: Record<string, string>;
  activeKeyRefreshMs?: number;
}): Promise<Harness> {
  const database: TestDatabase = await createTestDatabase({ name: options.name, migrationsDir });
  const natsServer = await startNatsServer();
  // The gateway's key for this harness only: calls below are signed as the gateway signs them.
  const trust = generateBusTrust('auth');
  const env = {
    NODE_ENV: 'test',
    BUS_TRUSTED_KEYS: trust.trustedKeys,
    // Its own link to payment (export and erasure); no payment service answers in these tests.
    BUS_SIGNING_KEYS: generateBusTrust('payment', 'auth').signingKeys,
    LOG_LEVEL: 'silent',
    AUTH_DATABASE_URL: database.url,
    NATS_URL: natsServer.url,
    AUTH_ADMIN_PORT: '0',
    AUTH_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    BCRYPT_COST: '4',
    DB_POOL_MAX: '10',
    DB_POOL_MIN_IDLE: '0',
    ...(options.activeKeyRefreshMs === undefined
      ? {}
      : { AUTH_ACTIVE_KEY_REFRESH_MS: String(options.activeKeyRefreshMs) }),
    ...options.env,
  };
  const nc = await connectBus({ servers: natsServer.url, name: `test-${options.name}` });
  const registry = createRegistry('auth');
  const service = createService(authService, {
    env,
    logger: createLogger({ service: 'auth', level: 'silent' }),
    registry,
    nc,
  });
  const { config } = service;
  await service.start();
  const db = new pg.Pool({ connectionString: database.url, max: 3 });
  // Dropping the test database can kill idle connections after end(); that must not crash the run.
  db.on('error', () => undefined);
  return {
    trust,
    config,
    service,
    registry,
    nc,
    natsServer,
    db,
    call: (endpoint, input, principal) =>
      request(
        nc,
        endpoint,
        input,
        {
          requestId: randomUUID(),
          principal,
          clientIp: '203.0.113.7',
          userAgent: 'vitest',
        },
        { signer: trust.signer },
      ),
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

/** The principal the gateway would build from a verified access token. */
export function principalFromAccessToken(accessToken: string): Principal {
  const claims = decodeJwt(accessToken);
  return {
    kind: 'user',
    user_id: String(claims.sub),
    did: String(claims.did),
    roles: claims.roles as Principal['roles'],
    is_system: Boolean(claims.is_system),
  };
}

let emailCounter = 0;
export function uniqueEmail(label = 'user'): string {
  emailCounter += 1;
  return `${label}.${emailCounter}.${randomBytes(3).toString('hex')}@example.com`;
}

export const goodPassword = 'correct horse battery staple';

/** Reads a metric's value for the given labels from the registry (0 when absent). */
export { metricValue } from '@zerostate/testkit';
