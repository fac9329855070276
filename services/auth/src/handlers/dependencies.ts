import type { HandlerContext, NatsConnection, PrincipalSigner } from '@zerostate/bus';
import type pg from 'pg';
import type { AuthConfig } from '../config.js';
import type { AuthPrisma } from '../db/prisma.js';
import type { RequestOrigin } from '../domain/types.js';
import type { AuthMetrics } from '../metrics.js';
import type { PasswordHasher } from '../security/password-hasher.js';
import type { SigningKeyRing } from '../security/signing-key-ring.js';

/** What every handler may use; built once by the service. */
export interface AuthDependencies {
  config: AuthConfig;
  prisma: AuthPrisma;
  /** The pool Prisma runs on, for hot reads as prepared statements (`createProfileReader`). */
  pool: pg.Pool;
  passwords: PasswordHasher;
  keyRing: SigningKeyRing;
  metrics: AuthMetrics;
  /**
   * A bcrypt hash of a random secret at the configured cost. Logins for unknown emails are
   * checked against it, so they take as long as logins for known ones.
   */
  dummyPasswordHash: string;
  /** Tells the outbox relay that a committed transaction wrote events. */
  kickOutbox(): void;
  /** For calls to the payment service as the auth service itself (export, erasure). */
  nc: NatsConnection;
  signer: PrincipalSigner;
}

export function originOf(context: HandlerContext): RequestOrigin {
  return { requestId: context.requestId, ip: context.clientIp ?? null, userAgent: context.userAgent ?? null };
}
