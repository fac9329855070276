// `pnpm start`: migrates each service's database and starts the services and the gateway
// against the local Postgres, Redis and NATS, with defaults that work on a development machine.
// Unless AUTH_KEY_ENCRYPTION_KEY is given, the auth service's public development key is used, so
// every checkout on a machine can read the signing keys an earlier run stored (production refuses it).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPlan } from './start-plan.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { developmentEncryptionKey } = await import(join(root, 'services/auth/dist/config.js'));
const { busKeySettingsOf, listServices } = await import(join(root, 'packages/config/dist/index.js'));
// Fresh links per run (gateway → each service, and each service → those it calls), derived from
// a secret never written anywhere: each process holds only its own links, so another process on
// the shared NATS cannot act as any user or service however it writes its headers.
const busLinks = busKeySettingsOf(listServices(root), randomBytes(32));

const defaults = {
  NODE_ENV: 'development',
  AUTH_KEY_ENCRYPTION_KEY: developmentEncryptionKey,
  GATEWAY_PORT: '8080',
  CORS_ORIGINS: 'http://localhost:3000',
};

/** A process's environment: the defaults, its own bus links, then whatever the caller set. */
function environmentOf(entry = {}) {
  const links = busLinks.get(entry.bus ?? (entry.calls ? 'gateway' : '')) ?? {};
  return { ...defaults, ...links, ...process.env };
}

const plan = startPlan(root, listServices);
const children = [];

function run(entry) {
  const { script, name } = entry;
  const child = spawn(process.execPath, ['--enable-source-maps', join(root, script)], {
    env: environmentOf(entry),
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (${signal ?? code}); stopping everything`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

function runToEnd(script) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, script)], { env: environmentOf(), stdio: 'inherit' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited with ${code}`))));
  });
}

let stopping = false;
function stop(code) {
  stopping = true;
  for (const child of children) child.kill('SIGTERM');
  setTimeout(() => process.exit(code), 6_000).unref();
  Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve)))).then(() =>
    process.exit(code),
  );
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

for (const migration of plan.migrations) await runToEnd(migration.script);
for (const entry of plan.processes) run(entry);
