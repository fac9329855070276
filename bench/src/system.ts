import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, freePort, startNatsServer, uniqueName } from '@zerostate/testkit';

export const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** BENCH_NODE picks the Node binary that runs the servers (e.g. a Node 24 build). */
const nodeBinary = process.env.BENCH_NODE ?? process.execPath;

async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await fetch(url).then(
        (response) => response.ok,
        () => false,
      )
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never became ready`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 8_000).unref();
  });
}

/** A baseline hello server (`http` or `express`) in its own process. */
export async function startBaseline(kind: 'http' | 'express') {
  const port = await freePort();
  const child = fork(join(root, 'bench/src/hello.mjs'), [kind, String(port)], {
    execPath: nodeBinary,
    stdio: 'ignore',
  });
  await waitForHttp(`http://127.0.0.1:${port}/`);
  return { url: `http://127.0.0.1:${port}/`, stop: () => stopChild(child) };
}

/** The built gateway and auth service (dist/) as separate processes, like production. */
export async function startSystem(env: Record<string, string> = {}) {
  const nats = await startNatsServer({ jetstream: true });
  const database = await createTestDatabase({
    name: 'bench_auth',
    migrationsDir: join(root, 'prisma/auth/migrations'),
  });
  const [gatewayPort, authAdminPort] = [await freePort(), await freePort()];
  const environment = {
    ...process.env,
    NODE_ENV: 'production',
    TLS_ONLY: 'false',
    LOG_LEVEL: 'warn',
    NATS_URL: nats.url,
    AUTH_DATABASE_URL: database.url,
    AUTH_ADMIN_PORT: String(authAdminPort),
    AUTH_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(gatewayPort),
    REDIS_KEY_PREFIX: `${uniqueName('bench')}:`,
    ...env,
  };
  const start = (entry: string) =>
    spawn(nodeBinary, ['--enable-source-maps', join(root, entry)], {
      env: environment,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  const auth = start('services/auth/dist/main.js');
  const gateway = start('gateway/dist/main.js');
  const baseUrl = `http://127.0.0.1:${gatewayPort}`;
  await waitForHttp(`${baseUrl}/ready`);
  return {
    baseUrl,
    authAdminUrl: `http://127.0.0.1:${authAdminPort}`,
    stop: async () => {
      await Promise.all([stopChild(gateway), stopChild(auth)]);
      await nats.stop();
      await database.drop();
    },
  };
}

export async function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}
