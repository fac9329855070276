import { fileURLToPath } from 'node:url';
import { baseConfig, loadConfig, readServiceDescription } from '@zerostate/config';
import { runServiceMain } from '@zerostate/observability';
import { z } from 'zod';
import type { ServiceDefinition } from './define.js';

/** What tracing and logging need before anything else is read (or imported). */
const earlySettings = z.object({
  LOG_LEVEL: baseConfig.LOG_LEVEL,
  OTEL_EXPORTER_OTLP_ENDPOINT: baseConfig.OTEL_EXPORTER_OTLP_ENDPOINT,
});

/**
 * The body of a service's main.ts (`@zerostate/service-kit/main`). It imports nothing that loads
 * pg, so tracing starts first and patches pg when `load` imports the service's definition; then
 * the service's settings are read (an invalid environment exits 1 listing names, never values),
 * it starts, and it stops once on SIGTERM or SIGINT.
 */
export async function runService(
  manifest: URL,
  // biome-ignore lint/suspicious/noExplicitAny: any definition; its own types stay inside it.
  load: () => Promise<ServiceDefinition<any, any, any>>,
): Promise<void> {
  const { name } = readServiceDescription(fileURLToPath(manifest));
  await runServiceMain({
    service: name,
    loadConfig: (env) => loadConfig(earlySettings, env),
    instrument: { http: false, express: false, ioredis: false, pg: true },
    build: async (_settings, logger) => {
      const [definition, { createService }] = await Promise.all([load(), import('./service.js')]);
      return createService(definition, { env: process.env, logger });
    },
  });
}
