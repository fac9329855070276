import { baseConfig } from '@zerostate/config';
import { z } from 'zod';

/**
 * The key `pnpm start` uses on a development machine, so every clone on one machine can read the
 * signing keys an earlier run stored. Public by design, hence refused in production.
 */
export const developmentEncryptionKey = 'emVyb3N0YXRlLWRldmVsb3BtZW50LW9ubHkta2V5ISE=';

const encryptionKey = z
  .string({ error: 'AUTH_KEY_ENCRYPTION_KEY is required (32 bytes, base64)' })
  .transform((value) => Buffer.from(value, 'base64'))
  .refine((key) => key.length === 32, 'AUTH_KEY_ENCRYPTION_KEY must decode to exactly 32 bytes (base64)');

/**
 * The auth service's own settings, read once from the environment at boot beside the kit's
 * (database, admin port, pool, NATS, logging). NODE_ENV is read here too: production refuses
 * weak settings.
 */
export const authConfigSchema = z
  .object({
    NODE_ENV: baseConfig.NODE_ENV,
    // A secret: it has no default, so a deployment that forgets it fails at boot.
    AUTH_KEY_ENCRYPTION_KEY: encryptionKey,
    JWT_ISSUER: z.string().min(1).default('zerostate-auth'),
    JWT_AUDIENCE: z.string().min(1).default('zerostate-api'),
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
    REFRESH_TOKEN_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(300)
      .max(90 * 86_400)
      .default(604_800),
    BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(12),
    PASSWORD_HASH_THREADS: z.coerce.number().int().min(1).max(32).default(2),
    // Capped at a day: Node fires a timer above 2^31-1 ms at once instead of late.
    AUTH_HOUSEKEEPING_INTERVAL_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(600_000),
    // How long a replica trusts its cached active signing key before re-reading it (0: always).
    AUTH_ACTIVE_KEY_REFRESH_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
    // Removed: read only to warn a deployment that still sets it.
    BOOTSTRAP_ADMIN_EMAIL: z.string().optional(),
  })
  .refine((config) => config.NODE_ENV !== 'production' || config.BCRYPT_COST >= 12, {
    path: ['BCRYPT_COST'],
    message: 'BCRYPT_COST must be at least 12 in production',
  })
  .refine(
    (config) =>
      config.NODE_ENV !== 'production' ||
      !config.AUTH_KEY_ENCRYPTION_KEY.equals(Buffer.from(developmentEncryptionKey, 'base64')),
    { path: ['AUTH_KEY_ENCRYPTION_KEY'], message: 'the development key must not be used in production' },
  );

export type AuthConfig = Readonly<z.output<typeof authConfigSchema>>;
