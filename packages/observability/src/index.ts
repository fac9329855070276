export { currentRequestContext, type RequestContext, runWithRequestContext } from './context.js';
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
