import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateBusKey, listServices, type ServiceDescription } from '@zerostate/config';
import {
  createTestDatabase,
  freePort,
  type RunningProcess,
  stackPlan,
  startNatsServer,
  startProcess,
  type TestDatabase,
  type TestServer,
  waitUntil,
} from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlan } from '../../scripts/start-plan.mjs';
import { repositoryRoot } from './support/files.js';
import { collectGeneratedConfigMaps, collectResources } from './support/kubernetes.js';
import { serviceDeploymentProblems } from './support/services.js';

/**
 * docs/ARCHITECTURE.md "Adding a service", followed in a scratch copy of the repository: the
 * scaffolder writes a service nobody has seen, and it starts and answers /ready, and start, the
 * test stack, turbo and the deploy checks find it, none of them edited.
 */
const name = 'recipe-probe';
let root: string;
let description: ServiceDescription;

/** The repository with its own files linked in, so the scaffolder's new folders are the only difference. */
function scratchRepository(): string {
  const scratch = mkdtempSync(path.join(tmpdir(), 'zs-recipe-'));
  const link = (relative: string) =>
    symlinkSync(path.join(repositoryRoot, relative), path.join(scratch, relative));
  for (const entry of [
    'node_modules',
    'packages',
    'gateway',
    'scripts',
    'package.json',
    'tsconfig.base.json',
  ]) {
    link(entry);
  }
  link('vitest.shared.ts');
  mkdirSync(path.join(scratch, 'services'));
  mkdirSync(path.join(scratch, 'prisma'));
  for (const service of listServices(repositoryRoot)) {
    link(service.folder);
    link(path.dirname(service.migrationsFolder));
  }
  return scratch;
}

/**
 * What `pnpm install` and `pnpm generate` do for the new folder: its dependencies linked from an
 * existing service's node_modules (same catalog versions), then its Prisma client generated.
 */
function installAndGenerate(folder: string): void {
  const { dependencies, devDependencies } = JSON.parse(
    readFileSync(path.join(folder, 'package.json'), 'utf8'),
  );
  const donor = path.join(repositoryRoot, 'services/auth/node_modules');
  for (const dependency of Object.keys({ ...dependencies, ...devDependencies })) {
    mkdirSync(path.dirname(path.join(folder, 'node_modules', dependency)), { recursive: true });
    symlinkSync(realpathSync(path.join(donor, dependency)), path.join(folder, 'node_modules', dependency));
  }
  execFileSync(
    process.execPath,
    [path.join(folder, 'node_modules/prisma/build/index.js'), 'generate', '--config', 'prisma.config.ts'],
    {
      cwd: folder,
      env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: path.join(folder, 'package.json') },
      stdio: 'pipe',
    },
  );
}

beforeAll(async () => {
  root = scratchRepository();
  const port = 9190;
  execFileSync(
    process.execPath,
    [path.join(repositoryRoot, 'scripts/new-service.mjs'), name, String(port), '--root', root],
    {
      stdio: 'pipe',
    },
  );
  description = listServices(root).find((service) => service.name === name)!;
  installAndGenerate(path.join(root, description.folder));
}, 120_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('a service made by the recipe', () => {
  let nats: TestServer;
  let database: TestDatabase;
  let running: RunningProcess | undefined;

  afterAll(async () => {
    await running?.stop();
    await nats?.stop();
    await database?.drop();
  });

  it('when it is started from its folder, then it answers /ready with its database and NATS', async () => {
    nats = await startNatsServer({ jetstream: true });
    database = await createTestDatabase({
      name: 'recipe_probe',
      migrationsDir: path.join(root, description.migrationsFolder),
    });
    const adminPort = await freePort();
    running = startProcess(path.join(root, description.sourceMain), {
      runtime: 'source',
      captureOutput: true,
      env: {
        NODE_ENV: 'test',
        NATS_URL: nats.url,
        [description.databaseVariable]: database.url,
        [description.adminPortVariable]: String(adminPort),
        DB_POOL_MIN_IDLE: '0',
        BUS_TRUSTED_KEYS: `gateway=${generateBusKey()}`,
      },
    });
    await waitUntil(
      'the recipe service to be ready',
      async () => (await fetch(`http://127.0.0.1:${adminPort}/ready`)).ok,
      60_000,
    );
    const ready = await (await fetch(`http://127.0.0.1:${adminPort}/ready`)).json();
    expect(ready).toEqual({ status: 'ready', checks: { database: 'ok', nats: 'ok' } });
    expect(running.lines.some((line) => line.includes(`"${name} service started"`))).toBe(true);
  }, 90_000);

  it('when its own scaffolded test runs, then it passes', () => {
    const { ZS_TEST_REPORT_DIR: _reports, ...env } = process.env;
    const output = execFileSync(
      process.execPath,
      [path.join(repositoryRoot, 'node_modules/vitest/vitest.mjs'), 'run'],
      {
        cwd: path.join(root, description.folder),
        env: { ...env, NO_COLOR: '1' },
        encoding: 'utf8',
        stdio: 'pipe',
      },
    );
    expect(output).toMatch(/1 passed/);
  }, 90_000);

  it('when start, the test stack and turbo read the repository, then each includes it unedited', () => {
    const plan = startPlan(root, listServices);
    expect(plan.migrations.map((migration) => migration.script)).toContain(
      `services/${name}/dist/migrate.js`,
    );
    expect(plan.processes).toContainEqual({ name, script: `services/${name}/dist/main.js`, bus: name });
    expect(plan.processes.at(-1)).toMatchObject({ name: 'gateway', calls: expect.arrayContaining([name]) });

    expect(stackPlan(root).find((entry) => entry.description.name === name)?.migrationsDir).toBe(
      path.join(root, `prisma/${name}/migrations`),
    );

    const turbo = JSON.parse(readFileSync(path.join(repositoryRoot, 'turbo.json'), 'utf8')) as {
      globalPassThroughEnv: string[];
    };
    const passes = (variable: string) =>
      turbo.globalPassThroughEnv.some((pattern) =>
        new RegExp(`^${pattern.replaceAll('*', '.*')}$`).test(variable),
      );
    for (const variable of [description.databaseVariable, description.adminPortVariable]) {
      expect(passes(variable), variable).toBe(true);
    }
  });

  it('when the deploy checks read the repository, then they demand its manifests by name', () => {
    const baseDirectory = path.join(repositoryRoot, 'deploy/k8s/base');
    const objects = collectResources(baseDirectory).map((entry) => entry.object);
    expect(
      serviceDeploymentProblems(objects, collectGeneratedConfigMaps(baseDirectory), description),
    ).toEqual([`${name}: no Deployment`]);
  });
});
