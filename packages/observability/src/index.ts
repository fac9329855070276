export {
  type AdminServer,
  type AdminServerOptions,
  type Readiness,
  startAdminServer,
} from './admin-server.js';
export { currentRequestContext, type RequestContext, runWithRequestContext } from './context.js';
export { type EventLoopDelayGauge, eventLoopDelayGauge } from './event-loop.js';
export {
  createLifecycle,
  readinessOf,
  releaseInOrder,
  runServiceMain,
  type ServiceMainConfig,
  type StartStop,
} from './lifecycle.js';
export { createLogger, type Logger, type LoggerOptions } from './logger.js';
export {
  Counter,
  counter,
  createRegistry,
  Gauge,
  gauge,
  Histogram,
  histogram,
  latencyBucketsSeconds,
  Registry,
} from './metrics.js';
export { extractTraceContext, type HeaderCarrier, injectTraceContext } from './propagation.js';
export {
  type InstrumentOptions,
  isTracing,
  startTelemetry,
  type Telemetry,
  type TelemetryOptions,
} from './tracing.js';
