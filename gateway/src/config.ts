import { fileURLToPath } from 'node:url';
import {
  baseConfig,
  booleanFromEnv,
  commaList,
  listServices,
  loadConfig,
  parseSigningKeys,
} from '@zerostate/config';
import { z } from 'zod';

/**
 * In a checkout (`pnpm start`, tests) /ready pings every service under services/ by its NATS
 * name. An image ships no services/ folder, so a deployment sets READY_SERVICES itself (the
 * deploy tests check it lists every service).
 */
const servicesInCheckout = listServices(fileURLToPath(new URL('../../', import.meta.url))).map(
  (service) => service.bus,
);

const gatewayConfigSchema = z
  .object({
    ...baseConfig,
    GATEWAY_HOST: z.string().default('0.0.0.0'),
    GATEWAY_PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
    REDIS_URL: z.string().min(1).default('redis://127.0.0.1:6379'),
    REDIS_KEY_PREFIX: z.string().max(64).default('zs:'),
    /** Browser origins allowed by CORS; an empty list allows none. */
    CORS_ORIGINS: commaList.default([]),
    /** HTTPS is served when both files are given. */
    TLS_CERT_FILE: z.string().optional(),
    TLS_KEY_FILE: z.string().optional(),
    /** Refuse plain HTTP and send HSTS; defaults to on in production. */
    TLS_ONLY: booleanFromEnv.optional(),
    /** Proxies whose X-Forwarded-* headers are believed (Express `trust proxy` values). */
    TRUSTED_PROXIES: commaList.default([]),
    JWT_ISSUER: z.string().min(1).default('zerostate-auth'),
    JWT_AUDIENCE: z.string().min(1).default('zerostate-api'),
    BODY_LIMIT_BYTES: z.coerce.number().int().min(1_024).max(10_485_760).default(102_400),
    /** How often an open task event stream sends a heartbeat comment (and re-reads the task). */
    TASK_EVENTS_HEARTBEAT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
    RATE_LIMIT_CAPACITY: z.coerce.number().int().min(1).default(20),
    RATE_LIMIT_REFILL_PER_MINUTE: z.coerce.number().int().min(1).default(100),
    LOGIN_LIMIT_PER_ACCOUNT_PER_MINUTE: z.coerce.number().int().min(1).default(5),
    LOGIN_LIMIT_PER_IP_PER_MINUTE: z.coerce.number().int().min(1).default(20),
    /** A cached JWKS older than this is refreshed, so keys the auth service retired are dropped. */
    JWKS_MAX_AGE_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
    /** How often the revoked-sessions list is re-read from auth, beside the event (a safety net). */
    SESSION_REVOCATION_POLL_MS: z.coerce.number().int().min(200).max(60_000).default(5_000),
    /** How long a verified API key is trusted without asking the auth service again. */
    API_KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(10_000),
    /** Per client address: API keys not yet cached that may be looked up (burst, then per minute). */
    API_KEY_LOOKUP_BURST: z.coerce.number().int().min(1).default(20),
    API_KEY_LOOKUP_REFILL_PER_MINUTE: z.coerce.number().int().min(1).default(100),
    /**
     * Signs the principal of every call it forwards: `<service>=<link key>` per service (each
     * service holds only its own link in BUS_TRUSTED_KEYS). A secret with no default: `pnpm
     * start` and the test stacks make fresh links per run.
     */
    BUS_SIGNING_KEYS: z.string({ error: 'BUS_SIGNING_KEYS is required' }).transform((text, context) => {
      try {
        return parseSigningKeys(text);
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
    /** Services /ready pings; each must answer `$SRV.PING`. */
    READY_SERVICES: commaList
      .default(servicesInCheckout)
      .refine(
        (services) => services.length > 0,
        'READY_SERVICES is required: no services/ folder lists them here',
      ),
  })
  .transform((config) => ({ ...config, TLS_ONLY: config.TLS_ONLY ?? config.NODE_ENV === 'production' }));

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  return loadConfig(gatewayConfigSchema, env);
}
