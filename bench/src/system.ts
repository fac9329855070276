import { type ChildProcess, execFile, fork } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, type RunningStack, repositoryRoot, startStack, waitUntil } from '@zerostate/testkit';

/** BENCH_NODE picks the Node binary that runs the servers (e.g. a Node 24 build). */
const nodeBinary = process.env.BENCH_NODE ?? process.execPath;

function waitForHttp(url: string): Promise<void> {
  return waitUntil(url, async () => (await fetch(url)).ok);
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
  const child = fork(join(repositoryRoot, 'bench/src/hello.mjs'), [kind, String(port)], {
    execPath: nodeBinary,
    stdio: 'ignore',
  });
  await waitForHttp(`http://127.0.0.1:${port}/`);
  return { url: `http://127.0.0.1:${port}/`, stop: () => stopChild(child) };
}

/** The built gateway and auth service (dist/) as separate processes, like production. */
export async function startSystem(env: Record<string, string> = {}): Promise<RunningStack> {
  return startStack({
    runtime: 'dist',
    nodeBinary,
    captureOutput: false,
    env: { NODE_ENV: 'production', TLS_ONLY: 'false', LOG_LEVEL: 'warn', ...env },
  });
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

/** One JSON call with an optional bearer token; answers the status and the parsed body. */
export async function callJson(
  method: 'GET' | 'POST',
  url: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/**
 * Makes a registered account an admin the way an operator does: the built grant-admin command
 * with database access (no HTTP route grants the first admin). The account must log in again.
 */
export async function grantAdmin(authDatabaseUrl: string, email: string): Promise<void> {
  await promisify(execFile)(
    nodeBinary,
    [join(repositoryRoot, 'services/auth/dist/grant-admin.js'), '--email', email],
    { cwd: repositoryRoot, env: { ...process.env, AUTH_DATABASE_URL: authDatabaseUrl } },
  );
}
