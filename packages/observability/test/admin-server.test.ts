import { afterEach, describe, expect, it } from 'vitest';
import { type AdminServer, type Readiness, startAdminServer } from '../src/admin-server.js';
import { counter, Registry } from '../src/metrics.js';

const servers: AdminServer[] = [];

async function start(ready: () => Promise<Readiness>, registry = new Registry()): Promise<AdminServer> {
  const server = await startAdminServer({ port: 0, host: '127.0.0.1', registry, ready });
  servers.push(server);
  return server;
}

async function get(server: AdminServer, path: string, method = 'GET') {
  const response = await fetch(`http://127.0.0.1:${server.port}${path}`, { method });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    text: await response.text(),
  };
}

const readyAlways = async (): Promise<Readiness> => ({ ready: true, checks: { nats: 'ok', postgres: 'ok' } });

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('startAdminServer', () => {
  it('when started on port 0, then it binds an ephemeral port and GET /health answers 200 ok', async () => {
    const server = await start(readyAlways);

    const response = await get(server, '/health');

    expect(server.port).toBeGreaterThan(0);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toEqual({ status: 'ok' });
  });

  it('when every dependency is ready, then GET /ready answers 200 with the checks', async () => {
    const server = await start(readyAlways);

    const response = await get(server, '/ready');

    expect(response.status).toBe(200);
    expect(JSON.parse(response.text)).toEqual({ status: 'ready', checks: { nats: 'ok', postgres: 'ok' } });
  });

  it('when a dependency is down, then GET /ready answers 503 with the failing check', async () => {
    const server = await start(async () => ({
      ready: false,
      checks: { nats: 'ok', postgres: 'unreachable' },
    }));

    const response = await get(server, '/ready');

    expect(response.status).toBe(503);
    expect(JSON.parse(response.text)).toEqual({
      status: 'not_ready',
      checks: { nats: 'ok', postgres: 'unreachable' },
    });
  });

  it('when the readiness probe never answers, then GET /ready answers 503 timeout', async () => {
    const server = await start(() => new Promise<Readiness>(() => {}));

    const response = await get(server, '/ready');

    expect(response.status).toBe(503);
    expect(JSON.parse(response.text)).toEqual({ status: 'not_ready', checks: { readiness: 'timeout' } });
  });

  it('when the readiness probe throws, then GET /ready answers 503 without the error text', async () => {
    const server = await start(async () => {
      throw new Error('password=hunter2 in a connection string');
    });

    const response = await get(server, '/ready');

    expect(response.status).toBe(503);
    expect(response.text).not.toContain('hunter2');
    expect(JSON.parse(response.text)).toEqual({ status: 'not_ready', checks: { readiness: 'error' } });
  });

  it('when Prometheus scrapes GET /metrics, then it gets the registry text with its content type', async () => {
    const registry = new Registry();
    counter(registry, 'admin_test_scrapes_total', 'Test counter.').inc(3);
    const server = await start(readyAlways, registry);

    const response = await get(server, '/metrics?name[]=ignored');

    expect(response.status).toBe(200);
    expect(response.contentType).toBe(registry.contentType);
    expect(response.text).toContain('admin_test_scrapes_total 3');
  });

  it('when an unknown path or another method is asked, then it answers 404 JSON', async () => {
    const server = await start(readyAlways);

    const unknown = await get(server, '/admin');
    const post = await get(server, '/health', 'POST');

    expect(unknown.status).toBe(404);
    expect(unknown.contentType).toContain('application/json');
    expect(JSON.parse(unknown.text)).toEqual({
      error: { code: 'ROUTE_NOT_FOUND', message: 'No such route.' },
    });
    expect(post.status).toBe(404);
  });

  it('when closed while a client keeps its connection alive, then close resolves and the port refuses', async () => {
    const server = await start(readyAlways);
    await get(server, '/health');

    await server.close();
    servers.splice(servers.indexOf(server), 1);

    await expect(fetch(`http://127.0.0.1:${server.port}/health`)).rejects.toThrow();
  });
});
