import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../../testkit/src/otlp-receiver.js';

const packageDirectory = fileURLToPath(new URL('..', import.meta.url));
const fixture = fileURLToPath(new URL('fixtures/traced-main.ts', import.meta.url));
const childDeadlineMs = 20_000;

interface FixtureRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the fixture the way a service runs in development: node + tsx + source condition. */
function runFixture(environment: Record<string, string>): Promise<FixtureRun> {
  const child = spawn(process.execPath, ['--conditions=@zerostate/source', '--import', 'tsx', fixture], {
    cwd: packageDirectory,
    env: { ...process.env, ...environment },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // A hung child would otherwise hang the suite; this is a guard, not an assertion.
  const guard = setTimeout(() => child.kill('SIGKILL'), childDeadlineMs);
  return new Promise((resolve) => {
    child.on('close', (exitCode) => {
      clearTimeout(guard);
      resolve({ exitCode, stdout, stderr });
    });
  });
}

function traceIdOf(run: FixtureRun): string {
  expect(run.exitCode, run.stderr).toBe(0);
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  return (JSON.parse(line) as { traceId: string }).traceId;
}

function inTrace(spans: ReceivedSpan[], traceId: string): ReceivedSpan[] {
  return spans.filter((span) => span.traceId === traceId);
}

function isPg(span: ReceivedSpan): boolean {
  return span.attributes['db.system.name'] === 'postgresql' && span.name.startsWith('pg.query');
}

function isRedisGet(span: ReceivedSpan): boolean {
  return span.attributes['db.system.name'] === 'redis' && span.name === 'get';
}

describe('startTelemetry with an OTLP endpoint', () => {
  let receiver: OtlpReceiver;

  beforeEach(async () => {
    receiver = await startOtlpReceiver();
  });

  afterEach(async () => {
    await receiver.close();
  });

  it('when a tsx-run service imports its libraries after startTelemetry, then http, express, pg and ioredis spans arrive in one trace', async () => {
    const traceId = traceIdOf(await runFixture({ FIXTURE_OTLP_ENDPOINT: receiver.endpoint }));

    const spans = inTrace(
      await receiver.waitForSpans((all) => inTrace(all, traceId).some(isRedisGet)),
      traceId,
    );

    const parent = spans.find((span) => span.name === 'fixture-parent');
    expect(parent?.parentSpanId).toBeUndefined();
    const httpClient = spans.find((span) => span.kind === 'client' && span.attributes['http.request.method']);
    expect(httpClient?.parentSpanId).toBe(parent?.spanId);
    const httpServer = spans.find((span) => span.kind === 'server' && span.name === 'GET /hello');
    expect(httpServer?.parentSpanId).toBe(httpClient?.spanId);
    const expressHandler = spans.find((span) => span.attributes['express.type'] === 'request_handler');
    expect(expressHandler?.parentSpanId).toBe(httpServer?.spanId);
    const pgQuery = spans.find(isPg);
    expect(pgQuery?.attributes['db.query.text']).toBe('SELECT 1 AS one');
    expect(pgQuery?.parentSpanId).toBe(parent?.spanId);
    expect(spans.find(isRedisGet)?.parentSpanId).toBe(parent?.spanId);
    expect(new Set(spans.map((span) => span.serviceName))).toEqual(new Set(['tracing-fixture']));
  });

  it('when the libraries are imported before startTelemetry, then only http and manual spans arrive (the hook must come first)', async () => {
    const traceId = traceIdOf(
      await runFixture({ FIXTURE_OTLP_ENDPOINT: receiver.endpoint, FIXTURE_IMPORT_BEFORE_TELEMETRY: '1' }),
    );

    // The exporter flushed during shutdown, before the child exited, so everything is here.
    const spans = inTrace(receiver.spans(), traceId);

    expect(spans.map((span) => span.name)).toContain('fixture-parent');
    expect(spans.some((span) => span.kind === 'client' && span.attributes['http.request.method'])).toBe(true);
    expect(spans.filter((span) => isPg(span) || span.attributes['db.system.name'] === 'redis')).toEqual([]);
    expect(spans.filter((span) => span.attributes['express.type'] !== undefined)).toEqual([]);
  });
});
