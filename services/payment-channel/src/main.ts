import { createLogger, startTelemetry } from '@zerostate/observability';
import { loadPaymentConfig } from './config.js';

/**
 * The only file that touches `process`: reads the environment, starts tracing before any
 * instrumented library (pg, NATS client) is imported, starts the service, and stops it on
 * SIGTERM/SIGINT within the pod's grace period.
 */
const config = readConfigOrExit();
const telemetry = await startTelemetry({
  serviceName: 'payment-channel',
  endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  instrument: { http: false, express: false, ioredis: false, pg: true },
});
// Imported only now, so the loader hook registered by startTelemetry can patch pg.
const { createPaymentService } = await import('./service.js');
const logger = createLogger({ service: 'payment-channel', level: config.LOG_LEVEL });
const service = createPaymentService({ config, logger });

function readConfigOrExit(): ReturnType<typeof loadPaymentConfig> {
  try {
    return loadPaymentConfig(process.env);
  } catch (error) {
    // No logger yet (its level is configuration too); the message lists names, never values.
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
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
}

process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

try {
  await service.start();
} catch (error) {
  logger.fatal({ err: error }, 'payment-channel service failed to start');
  await telemetry.shutdown();
  process.exit(1);
}
