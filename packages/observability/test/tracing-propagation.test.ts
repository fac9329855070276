import { setTimeout as delay } from 'node:timers/promises';
import { context, propagation, trace } from '@opentelemetry/api';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger, extractTraceContext, type HeaderCarrier, injectTraceContext } from '../src/index.js';
import { startTelemetry } from '../src/tracing.js';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const parentSpanId = '00f067aa0ba902b7';

/** NATS headers reduced to what the propagator uses. */
function headersOf(entries: Record<string, string>): HeaderCarrier {
  const values = new Map(Object.entries(entries));
  return {
    get: (key) => values.get(key) ?? '',
    set: (key, value) => {
      values.set(key, value);
    },
    keys: () => [...values.keys()],
  };
}

function readLines(): { destination: NodeJS.WritableStream; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const destination = {
    write(chunk: string) {
      chunks.push(chunk);
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  const lines = () =>
    chunks
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { destination, lines };
}

// This file's worker owns the process-wide OpenTelemetry globals; other files never share them.
describe('startTelemetry without an endpoint', () => {
  beforeAll(async () => {
    await startTelemetry({ serviceName: 'propagation-only' });
  });

  it('when a traceparent arrives in headers, then it stays active across awaits and reaches the logs', async () => {
    const incoming = headersOf({ traceparent: `00-${traceId}-${parentSpanId}-01` });
    const { destination, lines } = readLines();
    const logger = createLogger({ service: 'propagation-only', destination });

    await context.with(extractTraceContext(incoming), async () => {
      await delay(5);
      logger.info('handled');
    });

    expect(lines()[0]?.trace_id).toBe(traceId);
  });

  it('when a message is sent inside an incoming trace, then the outgoing headers carry the same trace', async () => {
    const incoming = headersOf({ traceparent: `00-${traceId}-${parentSpanId}-01` });
    const outgoing = headersOf({});

    await context.with(extractTraceContext(incoming), async () => {
      await delay(1);
      const span = trace.getTracer('test').startSpan('client');
      context.with(trace.setSpan(context.active(), span), () => injectTraceContext(outgoing));
      span.end();
    });

    expect(outgoing.get('traceparent')).toBe(`00-${traceId}-${parentSpanId}-01`);
  });

  it('when no endpoint is set, then spans are not recorded and only W3C trace context is propagated', () => {
    const span = trace.getTracer('test').startSpan('anything');

    expect(span.isRecording()).toBe(false);
    expect(propagation.fields()).toEqual(['traceparent', 'tracestate']);
  });

  it('when startTelemetry is called a second time, then it fails loudly', async () => {
    await expect(startTelemetry({ serviceName: 'again' })).rejects.toThrow(/once per process/);
  });
});
