import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { eventLoopDelayGauge } from './event-loop.js';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Buckets in seconds for request and query latencies: 1 ms to 10 s. */
export const latencyBucketsSeconds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A registry per process (or per app in tests, so two apps in one process never share counters).
 * Default Node metrics (heap, GC) are included, plus a 1 ms-resolution event-loop delay gauge.
 */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  eventLoopDelayGauge(registry);
  return registry;
}

/** Returns the metric of that name already in the registry, or registers it. */
export function counter(registry: Registry, name: string, help: string, labelNames: string[] = []) {
  return (
    (registry.getSingleMetric(name) as Counter<string> | undefined) ??
    new Counter({ name, help, labelNames, registers: [registry] })
  );
}

export function gauge(registry: Registry, name: string, help: string, labelNames: string[] = []) {
  return (
    (registry.getSingleMetric(name) as Gauge<string> | undefined) ??
    new Gauge({ name, help, labelNames, registers: [registry] })
  );
}

export function histogram(registry: Registry, name: string, help: string, labelNames: string[] = []) {
  return (
    (registry.getSingleMetric(name) as Histogram<string> | undefined) ??
    new Histogram({ name, help, labelNames, buckets: latencyBucketsSeconds, registers: [registry] })
  );
}
