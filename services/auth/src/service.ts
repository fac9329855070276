import { randomBytes } from 'node:crypto';
import { defineJob, defineService } from '@zerostate/service-kit';
import { authConfigSchema } from './config.js';
import type { AuthPrisma } from './db/prisma.js';
import { PrismaClient } from './generated/prisma/client.js';
import { authRegistrations } from './handlers/index.js';
import { createHousekeeping } from './housekeeping.js';
import { createAuthMetrics } from './metrics.js';
import { createPasswordHasher } from './security/password-hasher.js';
import { createSigningKeyRing } from './security/signing-key-ring.js';

/**
 * The auth service (NATS `auth`): users, sessions, API keys and signing keys. The kit owns the
 * pool, Prisma, NATS, outbox relay, admin port and stop order; this adds the password workers,
 * the signing-key ring (a readiness check of its own), the endpoints and the housekeeping job.
 */
export default defineService({
  manifest: new URL('../package.json', import.meta.url),
  description: 'Users, sessions, API keys and signing keys',
  config: authConfigSchema,
  prisma: (adapter): AuthPrisma => new PrismaClient({ adapter }),
  build: async ({ config, prisma, pool, logger, registry, kickOutbox, onStop, nc, signer }) => {
    // Export and erasure call the payment service as auth itself (manifest `calls`).
    if (!signer)
      throw new Error(
        'BUS_SIGNING_KEYS must hold the payment link: auth calls svc.payment.account.* as itself',
      );
    // The setting was removed (anyone could claim an unverified email by registering it first); a
    // deployment that still sets it expects an admin to appear, so say why none will.
    if (config.BOOTSTRAP_ADMIN_EMAIL) {
      logger.warn('BOOTSTRAP_ADMIN_EMAIL is ignored; make an admin with the grant-admin command instead');
    }
    const passwords = createPasswordHasher({
      cost: config.BCRYPT_COST,
      threads: config.PASSWORD_HASH_THREADS,
    });
    onStop('password workers', () => passwords.stop());
    const keyRing = createSigningKeyRing({
      prisma,
      encryptionKey: config.AUTH_KEY_ENCRYPTION_KEY,
      accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
      refreshIntervalMs: config.AUTH_ACTIVE_KEY_REFRESH_MS,
    });
    await keyRing.ensureActiveKey();
    const housekeeping = createHousekeeping({ prisma, pool, logger, registry });
    return {
      endpoints: authRegistrations({
        config,
        prisma,
        pool,
        passwords,
        keyRing,
        metrics: createAuthMetrics(registry),
        dummyPasswordHash: await passwords.hash(randomBytes(24).toString('base64url')),
        kickOutbox,
        nc,
        signer,
      }),
      jobs: [
        defineJob({
          name: 'housekeeping',
          intervalMs: config.AUTH_HOUSEKEEPING_INTERVAL_MS,
          run: (signal) => housekeeping.run(signal),
        }),
      ],
      readiness: { signing_key: () => keyRing.activeKey() },
    };
  },
});
