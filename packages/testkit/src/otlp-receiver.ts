import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';

export type ReceivedSpanKind = 'unspecified' | 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/** One span as a collector received it, flattened for assertions. Ids are lowercase hex. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Undefined for a root span. */
  parentSpanId: string | undefined;
  name: string;
  kind: ReceivedSpanKind;
  /** The resource's `service.name`. */
  serviceName: string | undefined;
  attributes: Record<string, unknown>;
}

export interface OtlpReceiver {
  /** Base address to give an exporter (OTEL_EXPORTER_OTLP_ENDPOINT); traces go to `/v1/traces`. */
  endpoint: string;
  /** Every span received, or none when started with `keepSpans: false`. */
  spans(): ReceivedSpan[];
  /** How many spans were received and decoded, kept or not. */
  count(): number;
  /** Resolves with all spans once the predicate holds; rejects after timeoutMs (default 10 s). */
  waitForSpans(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

/** OTLP JSON encodes span kinds as the protobuf enum numbers. */
const kindNames: ReceivedSpanKind[] = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const bodyLimitBytes = 16 * 1024 * 1024;
const defaultWaitTimeoutMs = 10_000;
const gunzipAsync = promisify(gunzip);

/**
 * A stand-in for an OpenTelemetry collector (or Jaeger's OTLP port) in tests: accepts OTLP/HTTP
 * JSON on POST /v1/traces, the encoding @opentelemetry/exporter-trace-otlp-http sends, gzipped
 * or not, and keeps every span in memory. With `keepSpans: false` (a benchmark's sink) it decodes
 * and counts every span and keeps none, as a collector that forwards them would (then `spans()`
 * stays empty and `waitForSpans` waits for nothing it can see: use `count()`).
 */
export async function startOtlpReceiver(options: { keepSpans?: boolean } = {}): Promise<OtlpReceiver> {
  const keepSpans = options.keepSpans ?? true;
  const received: ReceivedSpan[] = [];
  let count = 0;
  const waiters = new Set<() => void>();
  const server = http.createServer((request, response) => {
    handleRequest(request, response, (spans) => {
      count += spans.length;
      if (keepSpans) received.push(...spans);
      for (const wake of waiters) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    count: () => count,
    waitForSpans: (predicate, timeoutMs = defaultWaitTimeoutMs) =>
      waitFor(() => [...received], predicate, timeoutMs, waiters),
    close: () => closeServer(server),
  };
}

function handleRequest(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  accept: (spans: ReceivedSpan[]) => void,
): void {
  if (request.method !== 'POST' || request.url?.split('?', 1)[0] !== '/v1/traces') {
    reply(response, 404, { error: 'not found' });
    return;
  }
  if (!request.headers['content-type']?.startsWith('application/json')) {
    reply(response, 415, { error: 'only OTLP/HTTP JSON is accepted' });
    return;
  }
  readBody(request)
    .then((body) => {
      accept(decodeTraces(JSON.parse(body.toString('utf8'))));
      reply(response, 200, {});
    })
    .catch((error: unknown) => reply(response, 400, { error: String(error) }));
}

async function readBody(request: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > bodyLimitBytes) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  return request.headers['content-encoding'] === 'gzip' ? gunzipAsync(body) : body;
}

function reply(response: http.ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  bytesValue?: string;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes?: OtlpKeyValue[];
}
interface OtlpTraceRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

/** resourceSpans → scopeSpans → spans, with the resource's service name copied onto each span. */
function decodeTraces(request: OtlpTraceRequest): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const serviceName = toAttributes(resourceSpans.resource?.attributes)['service.name'];
    return (resourceSpans.scopeSpans ?? []).flatMap((scopeSpans) =>
      (scopeSpans.spans ?? []).map((span) => ({
        traceId: toHexId(span.traceId),
        spanId: toHexId(span.spanId),
        parentSpanId: span.parentSpanId ? toHexId(span.parentSpanId) : undefined,
        name: span.name,
        kind: kindNames[span.kind ?? 0] ?? 'unspecified',
        serviceName: typeof serviceName === 'string' ? serviceName : undefined,
        attributes: toAttributes(span.attributes),
      })),
    );
  });
}

/**
 * The OTLP JSON mapping says ids are hex, which is what the JS exporter sends; some older
 * exporters sent protobuf's default base64, so that is converted rather than mismatched.
 */
function toHexId(id: string): string {
  if (/^[0-9a-fA-F]+$/.test(id) && (id.length === 32 || id.length === 16)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

function toAttributes(keyValues: OtlpKeyValue[] | undefined): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const { key, value } of keyValues ?? []) attributes[key] = toValue(value);
  return attributes;
}

function toValue(value: OtlpAnyValue | undefined): unknown {
  if (value === undefined) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  // int64 may arrive as a JSON string (the protobuf JSON mapping) or as a number.
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.bytesValue !== undefined) return value.bytesValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(toValue);
  if (value.kvlistValue !== undefined) return toAttributes(value.kvlistValue.values);
  return undefined;
}

function waitFor(
  current: () => ReceivedSpan[],
  predicate: (spans: ReceivedSpan[]) => boolean,
  timeoutMs: number,
  waiters: Set<() => void>,
): Promise<ReceivedSpan[]> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const spans = current();
      if (!predicate(spans)) return;
      finish();
      resolve(spans);
    };
    const timer = setTimeout(() => {
      finish();
      const names = current().map((span) => `${span.serviceName}:${span.name}`);
      reject(new Error(`spans not received within ${timeoutMs} ms; got: ${names.join(', ') || 'none'}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      waiters.delete(check);
    };
    waiters.add(check);
    check();
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Exporters keep connections alive; without this close() waits for them to time out.
    server.closeAllConnections();
  });
}
