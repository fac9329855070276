import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** What a service's readiness probe reports: each dependency by name with a short status. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
}

export interface AdminServerOptions {
  /** 0 picks a free port; the bound one is returned. */
  port: number;
  /** Defaults to 0.0.0.0 so that kubelet probes and Prometheus reach the pod. */
  host?: string;
  registry: Registry;
  ready: () => Promise<Readiness>;
}

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

/** A probe that hangs must fail the check, not hang the kubelet, which would time out anyway. */
const readinessTimeoutMs = 1000;
const requestTimeoutMs = 5000;

/**
 * The small admin port every service exposes instead of public HTTP: GET /health (the process
 * answers), GET /ready (its dependencies answer), GET /metrics (Prometheus text). Plain
 * node:http, so that it stays up and cheap whatever the service does.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server = http.createServer((request, response) => {
    route(request, options).then(
      (answer) => send(response, answer),
      () => send(response, jsonAnswer(500, { status: 'error' })),
    );
  });
  server.requestTimeout = requestTimeoutMs;
  server.headersTimeout = requestTimeoutMs;
  await listen(server, options.port, options.host ?? '0.0.0.0');
  return {
    port: (server.address() as AddressInfo).port,
    close: () => closeServer(server),
  };
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

async function route(request: http.IncomingMessage, options: AdminServerOptions): Promise<Answer> {
  const path = (request.url ?? '/').split('?', 1)[0];
  if (request.method !== 'GET') return notFound();
  if (path === '/health') return jsonAnswer(200, { status: 'ok' });
  if (path === '/ready') return readinessAnswer(await probeReadiness(options.ready));
  if (path === '/metrics') {
    return { status: 200, contentType: options.registry.contentType, body: await options.registry.metrics() };
  }
  return notFound();
}

function readinessAnswer(readiness: Readiness): Answer {
  return jsonAnswer(readiness.ready ? 200 : 503, {
    status: readiness.ready ? 'ready' : 'not_ready',
    checks: readiness.checks,
  });
}

/** Runs the service's probe with a deadline; a probe that throws or is late means not ready. */
async function probeReadiness(ready: () => Promise<Readiness>): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Readiness>((resolve) => {
    timer = setTimeout(() => resolve({ ready: false, checks: { readiness: 'timeout' } }), readinessTimeoutMs);
  });
  const probe = ready().catch((): Readiness => ({ ready: false, checks: { readiness: 'error' } }));
  try {
    return await Promise.race([probe, late]);
  } finally {
    clearTimeout(timer);
  }
}

function notFound(): Answer {
  return jsonAnswer(404, { error: { code: 'ROUTE_NOT_FOUND', message: 'No such route.' } });
}

function jsonAnswer(status: number, body: unknown): Answer {
  return { status, contentType: 'application/json; charset=utf-8', body: JSON.stringify(body) };
}

function send(response: http.ServerResponse, answer: Answer): void {
  response
    .writeHead(answer.status, {
      'content-type': answer.contentType,
      'content-length': Buffer.byteLength(answer.body),
      'cache-control': 'no-store',
    })
    .end(answer.body);
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Prometheus keeps its scrape connection open; close must not wait for it to idle out.
    server.closeAllConnections();
  });
}
