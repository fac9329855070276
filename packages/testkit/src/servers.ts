import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './names.js';

export interface TestServer {
  url: string;
  port: number;
  /** Stops the process (by its pid) and removes its data directory. */
  stop(): Promise<void>;
}

const natsServerPath = '/usr/sbin/nats-server';
const redisServerPath = 'redis-server';
/** Readiness polls: 200 × 50 ms gives a slow CI machine 10 s to start a server. */
const readinessAttempts = 200;
const readinessPollMs = 50;
/** A port taken between `freePort()` and the server binding it is retried on a new port. */
const portAttempts = 3;
const stderrTailLength = 2_000;

/**
 * Opens a TCP connection, optionally writes a greeting and resolves true once the reply starts
 * with `expected`; false on refusal, another reply or silence.
 */
function probe(port: number, greeting: string | undefined, expected: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = '';
    const finish = (ready: boolean) => {
      socket.destroy();
      resolve(ready);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => {
      if (greeting !== undefined) socket.write(greeting);
    });
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
      if (received.length >= expected.length) finish(received.startsWith(expected));
    });
  });
}

interface Launch {
  command: string;
  /** Environment over this process's own (a NATS config's `$VARIABLE` references read it). */
  env?: Record<string, string>;
  args: (port: number) => string[];
  greeting?: string;
  expected: string;
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function stopChild(child: ChildProcess): Promise<void> {
  const exited = exitOf(child);
  child.kill('SIGTERM');
  const stopped = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
  if (!stopped) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Starts the process and resolves once it answers, or rejects with the tail of its stderr. */
async function launchOnPort(launch: Launch, port: number): Promise<ChildProcess> {
  const child = spawn(launch.command, launch.args(port), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...launch.env },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-stderrTailLength);
  });
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  for (let attempt = 0; attempt < readinessAttempts; attempt += 1) {
    if (spawnError !== undefined) throw spawnError;
    if (child.exitCode !== null) throw new Error(`${launch.command} exited early: ${stderr}`);
    if (await probe(port, launch.greeting, launch.expected)) return child;
    await sleep(readinessPollMs);
  }
  await stopChild(child);
  throw new Error(`${launch.command} did not answer on port ${port}: ${stderr}`);
}

async function startServer(
  launch: Launch,
  scheme: string,
  cleanup: () => Promise<void>,
): Promise<TestServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < portAttempts; attempt += 1) {
    const port = await freePort();
    try {
      const child = await launchOnPort(launch, port);
      // If the test process ends without calling stop(), do not leave the server running.
      const killOnExit = () => child.kill('SIGKILL');
      process.once('exit', killOnExit);
      return {
        url: `${scheme}://127.0.0.1:${port}`,
        port,
        async stop() {
          process.removeListener('exit', killOnExit);
          await stopChild(child);
          await cleanup();
        },
      };
    } catch (error) {
      lastError = error;
    }
  }
  await cleanup();
  throw lastError;
}

/**
 * Spawns a private nats-server on a free port (with JetStream in a temporary directory unless
 * `jetstream: false`) and resolves once it greets clients. For fault tests: stop it, kill it,
 * without touching the shared server.
 */
export async function startNatsServer(options?: {
  jetstream?: boolean;
  /** A server configuration file (users, permissions); ports and storage still come from here. */
  configFile?: string;
  /** Environment for the server, e.g. the passwords a configuration references as `$NAME`. */
  env?: Record<string, string>;
}): Promise<TestServer> {
  const jetstream = options?.jetstream ?? true;
  const storeDir = jetstream ? await mkdtemp(path.join(tmpdir(), 'zs-nats-')) : undefined;
  const launch: Launch = {
    command: natsServerPath,
    ...(options?.env ? { env: options.env } : {}),
    args: (port) => [
      ...(options?.configFile ? ['-c', options.configFile] : []),
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      ...(storeDir ? ['-js', '-sd', storeDir] : []),
    ],
    expected: 'INFO ',
  };
  return startServer(launch, 'nats', async () => {
    if (storeDir) await rm(storeDir, { recursive: true, force: true });
  });
}

/** Spawns a private redis-server (no persistence) on a free port; resolves once it answers PING. */
export async function startRedisServer(): Promise<TestServer> {
  const launch: Launch = {
    command: redisServerPath,
    args: (port) => [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
    ],
    greeting: 'PING\r\n',
    expected: '+PONG',
  };
  return startServer(launch, 'redis', async () => undefined);
}
