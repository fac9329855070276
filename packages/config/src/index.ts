import { z } from 'zod';

/**
 * Parses `process.env` (or a given record) once at boot against a zod schema and freezes the
 * result. A bad or missing value stops the process with every problem listed, not the first.
 */
export function loadConfig<Schema extends z.ZodType>(
  schema: Schema,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.output<Schema>> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid configuration:\n${problems.join('\n')}`);
  }
  return Object.freeze(parsed.data);
}

/** `true`/`false`/`1`/`0` from the environment. */
export const booleanFromEnv = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

export const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

/** Settings every process shares. */
export const baseConfig = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  /** The process's NATS user and password where the server enforces deploy/nats/permissions.conf. */
  NATS_USER: z.string().min(1).max(64).optional(),
  NATS_PASSWORD: z.string().min(1).max(256).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
};

/**
 * Database pool settings (seed: 100 open, 20 idle, 5 min lifetime, 1 min idle). `pg` has no
 * "max idle" knob: idle connections beyond need close after DB_POOL_IDLE_TIMEOUT_MS, and
 * DB_POOL_MIN_IDLE keeps that many warm.
 */
export const databasePoolConfig = {
  DB_POOL_MAX: z.coerce.number().int().min(1).max(1000).default(100),
  DB_POOL_MIN_IDLE: z.coerce.number().int().min(0).max(1000).default(20),
  DB_POOL_MAX_LIFETIME_SECONDS: z.coerce.number().int().min(1).default(300),
  DB_POOL_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1_000).default(60_000),
  DB_POOL_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
};

export {
  type BusKeySettings,
  busKeySettingsOf,
  deriveBusKey,
  generateBusKey,
  parseSigningKeys,
  parseTrustedKeys,
} from './bus-keys.js';
export {
  describeService,
  environmentPrefixOf,
  listServices,
  readServiceDescription,
  type ServiceDescription,
  serviceManifestSchema,
} from './services.js';
