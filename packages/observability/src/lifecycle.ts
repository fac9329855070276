import type { Readiness } from './admin-server.js';
import { createLogger, type Logger, type LoggerOptions } from './logger.js';
import { type InstrumentOptions, startTelemetry } from './tracing.js';

/** What every service's main needs from its configuration. */
export interface ServiceMainConfig {
  LOG_LEVEL: LoggerOptions['level'];
  OTEL_EXPORTER_OTLP_ENDPOINT?: string | undefined;
}

export interface StartStop {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The body of a service's main.ts, the only code that touches `process`: reads the configuration
 * (printing the problems and exiting 1 when it is invalid, without values), starts tracing before
 * `build` imports any instrumented library, starts the service, and stops it once on SIGTERM or
 * SIGINT, exiting 0 after a clean stop and 1 otherwise.
 */
export async function runServiceMain<Config extends ServiceMainConfig>(options: {
  service: string;
  loadConfig: (env: NodeJS.ProcessEnv) => Config;
  instrument: InstrumentOptions;
  /** Imports the service module (after tracing started) and builds the service. */
  build: (config: Config, logger: Logger) => Promise<StartStop>;
}): Promise<void> {
  let config: Config;
  try {
    config = options.loadConfig(process.env);
  } catch (error) {
    // No logger yet (its level is configuration too); the message lists names, never values.
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
  const telemetry = await startTelemetry({
    serviceName: options.service,
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    instrument: options.instrument,
  });
  const logger = createLogger({ service: options.service, level: config.LOG_LEVEL });
  let service: StartStop;
  try {
    service = await options.build(config, logger);
  } catch (error) {
    // A service's own settings are read by build; their message lists names, never values.
    logger.fatal({ err: error }, `${options.service} service could not be built`);
    await telemetry.shutdown();
    process.exit(1);
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    try {
      await service.stop();
      await telemetry.shutdown();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'stop failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  try {
    await service.start();
  } catch (error) {
    logger.fatal({ err: error }, `${options.service} service failed to start`);
    await telemetry.shutdown();
    process.exit(1);
  }
}

/**
 * Runs each release step in order; one failing step is logged and does not keep the later ones
 * from releasing their resources. Steps left undefined were never acquired.
 */
export async function releaseInOrder(
  steps: readonly (readonly [name: string, step: (() => Promise<unknown>) | undefined])[],
  logger: Logger,
): Promise<void> {
  for (const [name, step] of steps) {
    await step?.().catch((error: unknown) => logger.warn({ err: error, step: name }, 'stop step failed'));
  }
}

/** Runs named checks; each is `ok` when it resolves and `error` when it rejects. */
export async function readinessOf(checks: Record<string, () => Promise<unknown>>): Promise<Readiness> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => [
      name,
      await check().then(
        () => 'ok',
        () => 'error',
      ),
    ]),
  );
  const results = Object.fromEntries(entries) as Record<string, string>;
  return { ready: Object.values(results).every((status) => status === 'ok'), checks: results };
}

/**
 * Start and stop for a service that acquires resources step by step: `acquire` fills `held` as
 * it goes, so a start that fails half-way releases exactly what it made; stop releases once.
 */
export function createLifecycle<Held extends object>(options: {
  name: string;
  logger: Logger;
  acquire: (held: Held) => Promise<void>;
  release: (held: Held) => Promise<void>;
  /** Fields for the "started" log line. */
  describe?: (held: Held) => Record<string, unknown>;
}): StartStop & { current(): Held | undefined } {
  let resources: Held | undefined;
  return {
    start: async () => {
      if (resources) throw new Error(`${options.name} service already started`);
      const held = {} as Held;
      resources = held;
      try {
        await options.acquire(held);
        options.logger.info(options.describe?.(held) ?? {}, `${options.name} service started`);
      } catch (error) {
        resources = undefined;
        await options.release(held);
        throw error;
      }
    },
    stop: async () => {
      const held = resources;
      resources = undefined;
      if (!held) return;
      await options.release(held);
      options.logger.info(`${options.name} service stopped`);
    },
    current: () => resources,
  };
}
