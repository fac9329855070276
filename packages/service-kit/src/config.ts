import {
  baseConfig,
  databasePoolConfig,
  parseSigningKeys,
  parseTrustedKeys,
  type ServiceDescription,
} from '@zerostate/config';
import { z } from 'zod';

/** The settings the kit reads for every service, whatever its own schema says. */
export interface KitConfig {
  NODE_ENV: 'development' | 'test' | 'production';
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  NATS_URL: string;
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
  DB_POOL_MAX: number;
  DB_POOL_MIN_IDLE: number;
  DB_POOL_MAX_LIFETIME_SECONDS: number;
  DB_POOL_IDLE_TIMEOUT_MS: number;
  DB_POOL_CONNECT_TIMEOUT_MS: number;
  /** JetStream replicas of the event and dead-letter streams (3 in production, 1 on one server). */
  EVENT_STREAM_REPLICAS: number;
  /** Whose signed principals this service obeys: `<caller>=<link key>` entries (secret). */
  BUS_TRUSTED_KEYS: Map<string, Buffer[]>;
  /** The keys of the services it calls as itself: `<callee>=<link key>` entries (secret). */
  BUS_SIGNING_KEYS?: Map<string, Buffer> | undefined;
  /** From `<BUS>_DATABASE_URL`; a development machine's local database by default. */
  databaseUrl: string;
  /** From `<BUS>_ADMIN_PORT`; the manifest's port by default, 0 picks a free one. */
  adminPort: number;
}

/** A setting parsed by `parse`, whose error message (never the value) becomes the issue. */
function parsedWith<T>(parse: (text: string) => T) {
  return z.string({ error: 'is required' }).transform((text, context) => {
    try {
      return parse(text);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
}

/** The kit's schema for one service: its database and admin-port variables are named after its bus name. */
export function kitConfigSchema(service: ServiceDescription) {
  const named = z.object({
    [service.databaseVariable]: z
      .string()
      .min(1)
      .default(`postgresql://postgres@127.0.0.1:5432/${service.databaseName}`),
    [service.adminPortVariable]: z.coerce.number().int().min(0).max(65_535).default(service.adminPort),
  });
  return z
    .object({
      ...baseConfig,
      ...databasePoolConfig,
      EVENT_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
      // No default: a service that trusted nobody would refuse every caller, and one that trusted
      // a well-known key would obey anyone on the bus. Both are secrets.
      BUS_TRUSTED_KEYS: parsedWith(parseTrustedKeys),
      BUS_SIGNING_KEYS: parsedWith(parseSigningKeys).optional(),
      ...named.shape,
    })
    .transform((parsed): KitConfig => {
      const {
        [service.databaseVariable]: databaseUrl,
        [service.adminPortVariable]: adminPort,
        ...rest
      } = parsed as Record<string, unknown>;
      return {
        ...(rest as Omit<KitConfig, 'databaseUrl' | 'adminPort'>),
        databaseUrl,
        adminPort,
      } as KitConfig;
    });
}

/**
 * Parses the kit's settings and the service's own from one environment, reporting every problem
 * of both at once by variable name (never by value), and freezes the result.
 */
export function loadServiceConfig<Schema extends z.ZodType>(
  service: ServiceDescription,
  schema: Schema,
  env: Record<string, string | undefined>,
): Readonly<KitConfig & z.output<Schema>> {
  const kit = kitConfigSchema(service).safeParse(env);
  const own = schema.safeParse(env);
  const issues = [...(kit.success ? [] : kit.error.issues), ...(own.success ? [] : own.error.issues)];
  if (!kit.success || !own.success) {
    const problems = issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid configuration of ${service.name}:\n${[...new Set(problems)].join('\n')}`);
  }
  return Object.freeze({ ...(own.data as object), ...kit.data }) as KitConfig & z.output<Schema>;
}
