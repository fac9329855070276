// The only gateway file that touches the process: config, telemetry, signals, exit.
import { loadGatewayConfig } from './config.js';

const config = loadGatewayConfig();
const { startTelemetry } = await import('@zerostate/observability');
// Telemetry starts before the app's modules load, so their instrumentation hooks apply.
// No Express instrumentation: it wrapped every middleware layer and `next` of every request (a
// fifth of the gateway's tracing cost in a profile) for spans that timed a few microseconds each.
// No generic HTTP instrumentation either: the gateway opens its own server span
// (middleware/server-span.ts), named by its route from the access-log middleware (http-metrics.ts).
// No Redis spans: the gateway's Redis calls are its rate limiters' (one per request, a second on
// the login routes), whose times the server span carries as `zerostate.rate_limit.<limiter>.ms`
// (a span of its own was a quarter of the spans a `/users/me` trace exported, for a number).
const telemetry = await startTelemetry({
  serviceName: 'gateway',
  endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
  instrument: { http: false, express: false, ioredis: false },
});
const { createGateway } = await import('./server.js');
const gateway = await createGateway(config);
await gateway.start();

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void gateway
      .stop()
      .then(() => telemetry.shutdown())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  });
}
