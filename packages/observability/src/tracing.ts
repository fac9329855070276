import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { register } from 'node:module';
import {
  type Context,
  type ContextManager,
  context,
  ProxyTracerProvider,
  propagation,
  ROOT_CONTEXT,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Instrumentation } from '@opentelemetry/instrumentation';

/** Which libraries get automatic spans. Each defaults to true when tracing is exported. */
export interface InstrumentOptions {
  http?: boolean;
  express?: boolean;
  pg?: boolean;
  ioredis?: boolean;
}

export interface TelemetryOptions {
  serviceName: string;
  /** OTLP/HTTP base address (OTEL_EXPORTER_OTLP_ENDPOINT), e.g. http://127.0.0.1:4318. */
  endpoint?: string | undefined;
  instrument?: InstrumentOptions;
}

export interface Telemetry {
  /** Flushes queued spans and stops exporting; resolves within 2 s even if the collector hangs. */
  shutdown(): Promise<void>;
}

/**
 * Batch tuning for load. The defaults (queue 2,048, export every 5 s) dropped spans in the load
 * probe (TOOLCHAIN.md): with several spans per request at ~2,000 req/s, 2,048 spans are a
 * fraction of a second of traffic. A 8,192 queue absorbs a slow collector for a moment;
 * exporting every second, and as soon as 512 spans wait, keeps the queue short, keeps each POST
 * small and bounds what a crash loses to about a second. A full queue drops spans rather than
 * slowing requests.
 */
const batchOptions = {
  maxQueueSize: 8192,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 1000,
  exportTimeoutMillis: 5000,
};
const exportTimeoutMs = 5000;
const shutdownTimeoutMs = 2000;

/** Probes and scrapes would otherwise make a trace every few seconds per replica. */
const untracedPaths = new Set(['/health', '/ready', '/metrics']);

let started = false;

/**
 * Whether a tracer provider that records spans is registered (startTelemetry with an endpoint,
 * or a test's own provider). Without one, every span is a no-op object, so hot paths (the bus
 * client and the handler adapter) skip opening spans and entering contexts altogether.
 */
export function isTracing(): boolean {
  const provider = trace.getTracerProvider();
  const delegate = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  return delegate.constructor.name !== 'NoopTracerProvider';
}

/**
 * Starts tracing for this process. Call it first in `main.ts`, then import the service module
 * dynamically (`await import('./service.js')`): in an ESM app express, pg and ioredis can only
 * be patched when they are imported after the loader hook registered here.
 *
 * Without an endpoint only context propagation is installed (W3C trace context plus an
 * AsyncLocalStorage context manager): a trace id that arrives in NATS headers still reaches
 * the logs and outgoing messages, but no span is recorded or exported.
 *
 * With tsx (`node --import tsx main.ts`) the order that works is: tsx's hooks first (from the
 * command line), this loader hook second. Node runs the most recently registered hook first,
 * so import-in-the-middle sees the original bare specifier ('pg') — which it needs to
 * recognise a package — and hands resolution and TypeScript loading on to tsx.
 */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  assert.ok(!started, 'startTelemetry must be called once per process');
  started = true;
  if (options.endpoint === undefined || options.endpoint === '') {
    installContextPropagation();
    return { shutdown: async () => {} };
  }
  return startExporting(options.serviceName, options.endpoint, resolveInstrumentOptions(options.instrument));
}

function resolveInstrumentOptions(instrument: InstrumentOptions | undefined): Required<InstrumentOptions> {
  return {
    http: instrument?.http ?? true,
    express: instrument?.express ?? true,
    pg: instrument?.pg ?? true,
    ioredis: instrument?.ioredis ?? true,
  };
}

function installContextPropagation(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

async function startExporting(
  serviceName: string,
  endpoint: string,
  instrument: Required<InstrumentOptions>,
): Promise<Telemetry> {
  registerImportHook(instrument);
  // Loaded only when exporting, so a process without an endpoint pays nothing for the SDK.
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
    ]);
  const exporter = new OTLPTraceExporter({
    url: `${endpoint.replace(/\/+$/, '')}/v1/traces`,
    timeoutMillis: exportTimeoutMs,
  });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter, batchOptions)],
  });
  // The SDK's default context manager is AsyncLocalStorage; only W3C trace context is propagated.
  provider.register({ propagator: new W3CTraceContextPropagator() });
  const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
  const disableInstrumentations = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: await createInstrumentations(instrument),
  });
  if (instrument.http) await patchHttpNow();
  return {
    async shutdown() {
      disableInstrumentations();
      await withinTimeout(provider.shutdown(), shutdownTimeoutMs);
    },
  };
}

/**
 * Registers import-in-the-middle's loader hook for the instrumented packages only: wrapping
 * every module (its default) slows startup and puts our own TypeScript sources through it.
 * Packages are matched by URL so any install layout (pnpm's .pnpm store included) works.
 */
function registerImportHook(instrument: Required<InstrumentOptions>): void {
  const include: (string | RegExp)[] = [];
  if (instrument.http) include.push('node:http', 'node:https');
  const packages = [
    ...(instrument.express ? ['express'] : []),
    ...(instrument.pg ? ['pg', 'pg-pool'] : []),
    ...(instrument.ioredis ? ['ioredis'] : []),
  ];
  for (const name of packages) include.push(new RegExp(`/node_modules/${name}/`));
  if (include.length === 0) return;
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include } });
}

async function createInstrumentations(instrument: Required<InstrumentOptions>): Promise<Instrumentation[]> {
  const instrumentations: Instrumentation[] = [];
  if (instrument.http) {
    const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
    instrumentations.push(
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => untracedPaths.has(pathOf(request.url)),
      }),
    );
  }
  if (instrument.express) {
    const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express');
    // A span per middleware (request id, helmet, CORS, body, identify, limiter…) was most of a
    // request's spans and cost more than the work it timed; routers and the route's handler
    // (which names the route) are kept.
    instrumentations.push(new ExpressInstrumentation({ ignoreLayersType: ['middleware' as never] }));
  }
  if (instrument.pg) {
    const { PgInstrumentation } = await import('@opentelemetry/instrumentation-pg');
    // Queries outside a request (outbox relay, reconciliation polls) would each start a trace;
    // query parameters stay out of spans because they can hold personal data.
    instrumentations.push(
      // A connect span per checkout from the pool says nothing the query span does not.
      new PgInstrumentation({
        requireParentSpan: true,
        enhancedDatabaseReporting: false,
        ignoreConnectSpans: true,
      }),
    );
  }
  if (instrument.ioredis) {
    const { IORedisInstrumentation } = await import('@opentelemetry/instrumentation-ioredis');
    instrumentations.push(new IORedisInstrumentation({ requireParentSpan: true }));
  }
  return instrumentations;
}

/**
 * node:http is usually imported before this runs (this package's admin server imports it), and
 * the patch is applied only when a hooked import happens. Importing it here, through the hook,
 * patches the shared module object now, whatever the application's import order.
 */
async function patchHttpNow(): Promise<void> {
  await Promise.all([import('node:http'), import('node:https')]);
}

function pathOf(url: string | undefined): string {
  return (url ?? '/').split('?', 1)[0] ?? '/';
}

async function withinTimeout(work: Promise<void>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  try {
    // A collector that never answers must not hold up process exit; unsent spans are lost.
    await Promise.race([work.catch(() => {}), expiry]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The API's context manager over AsyncLocalStorage, for the propagation-only mode. The SDK's
 * own (in @opentelemetry/context-async-hooks) is not a direct dependency of this package; this
 * one covers `active`, `with` and function binding, which is all our code and the bus use.
 */
class AsyncLocalStorageContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    activeContext: Context,
    work: F,
    thisArgument?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const bound = thisArgument === undefined ? work : work.bind(thisArgument);
    return this.#storage.run(activeContext, bound, ...args);
  }

  bind<T>(boundContext: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const manager = this;
    const original = target as (...args: unknown[]) => unknown;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(boundContext, () => original.apply(this, args));
    } as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#storage.disable();
    return this;
  }
}
