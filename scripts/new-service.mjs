// `pnpm new-service <name> <admin-port>`: writes a new NATS service that the kit starts, the
// first step of docs/ARCHITECTURE.md "Adding a service". It writes only new files: the service
// folder (services/<name>) and its schema and first migration (prisma/<name>). Start, the test
// stack, turbo, the gateway's /ready and the deploy tests pick it up from its package.json.
//
//   node scripts/new-service.mjs <name> <admin-port> [--root <repository root>]
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const usage = 'usage: node scripts/new-service.mjs <name> <admin-port> [--root <repository root>]';

/**
 * The files of a new service named `name` (lowercase kebab; also its NATS name, env prefix and
 * database) with its admin port, as `{ path: content }` relative to the repository root.
 */
export function serviceFiles(name, adminPort, kitSql) {
  const prefix = name.toUpperCase().replaceAll('-', '_');
  const title = name
    .split('-')
    .map((part, index) => (index === 0 ? part : part[0].toUpperCase() + part.slice(1)))
    .join('');
  const folder = `services/${name}`;
  const packageJson = {
    name: `@zerostate/${name}-service`,
    version: '0.1.0',
    private: true,
    type: 'module',
    zerostate: { bus: name, adminPort },
    scripts: {
      build: 'tsc -p tsconfig.build.json',
      typecheck: 'tsc --noEmit',
      test: 'vitest run',
      start: 'node --enable-source-maps dist/main.js',
      dev: 'node --conditions=@zerostate/source --import tsx src/main.ts',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell default, expanded by sh.
      generate:
        'PRISMA_SCHEMA_ENGINE_BINARY=${PRISMA_SCHEMA_ENGINE_BINARY:-$PWD/package.json} prisma generate --config prisma.config.ts',
      migrate: 'node --conditions=@zerostate/source --import tsx src/migrate.ts',
    },
    dependencies: {
      '@prisma/adapter-pg': 'catalog:',
      '@prisma/client': 'catalog:',
      pg: 'catalog:',
      zod: 'catalog:',
      '@zerostate/bus': 'workspace:*',
      '@zerostate/contracts': 'workspace:*',
      '@zerostate/errors': 'workspace:*',
      '@zerostate/observability': 'workspace:*',
      '@zerostate/service-kit': 'workspace:*',
    },
    devDependencies: {
      prisma: 'catalog:',
      '@types/pg': 'catalog:',
      '@zerostate/testkit': 'workspace:*',
    },
  };
  return {
    [`${folder}/package.json`]: `${JSON.stringify(packageJson, null, 2)}\n`,
    [`${folder}/tsconfig.json`]: `{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "noEmit": true },
  "include": ["src", "test", "*.ts"]
}
`,
    [`${folder}/tsconfig.build.json`]: `{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist" },
  "include": ["src"],
  "exclude": ["src/**/*.test.ts", "src/generated/**/*.test.ts"]
}
`,
    [`${folder}/vitest.config.ts`]: `import shared from '../../vitest.shared.js';

export default shared;
`,
    [`${folder}/prisma.config.ts`]: `import { defineConfig } from 'prisma/config';

// Generates the client only; migrations are SQL applied by \`pnpm migrate\` (packages/database).
export default defineConfig({
  schema: '../../prisma/${name}/schema.prisma',
  migrations: { path: '../../prisma/${name}/migrations' },
  datasource: { url: process.env.${prefix}_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zerostate_${name.replaceAll('-', '_')}' },
});
`,
    [`${folder}/src/config.ts`]: `import { z } from 'zod';

/** The ${name} service's own settings, read at boot beside the kit's (database, admin port, NATS). */
export const ${title}ConfigSchema = z.object({});
`,
    [`${folder}/src/service.ts`]: `import { defineService } from '@zerostate/service-kit';
import { ${title}ConfigSchema } from './config.js';
import { PrismaClient } from './generated/prisma/client.js';

/** The ${name} service (NATS \`${name}\`). Add endpoints, consumers and jobs here. */
export default defineService({
  manifest: new URL('../package.json', import.meta.url),
  description: 'The ${name} service',
  config: ${title}ConfigSchema,
  prisma: (adapter) => new PrismaClient({ adapter }),
  build: async () => ({ endpoints: [] }),
});
`,
    [`${folder}/src/main.ts`]: `import { runService } from '@zerostate/service-kit/main';

/** The process entry point; the kit's \`runService\` owns env, tracing, signals and exit. */
await runService(new URL('../package.json', import.meta.url), async () => (await import('./service.js')).default);
`,
    [`${folder}/src/migrate.ts`]: `import { runMigrate } from '@zerostate/service-kit/migrate';

/** \`pnpm --filter @zerostate/${name}-service migrate\`: reads ${prefix}_DATABASE_URL. */
await runMigrate(new URL('../package.json', import.meta.url), import.meta.url);
`,
    [`${folder}/test/service.test.ts`]: `import { generateBusTrust } from '@zerostate/bus';
import { createLogger } from '@zerostate/observability';
import { createService } from '@zerostate/service-kit';
import { migrationsDirOf } from '@zerostate/service-kit/migrate';
import { createTestDatabase, type TestDatabase } from '@zerostate/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ${title}Service from '../src/service.js';

let database: TestDatabase;
const service = () =>
  createService(${title}Service, {
    env: {
      NODE_ENV: 'test',
      ${prefix}_DATABASE_URL: database.url,
      ${prefix}_ADMIN_PORT: '0',
      DB_POOL_MIN_IDLE: '0',
      BUS_TRUSTED_KEYS: generateBusTrust('${name}').trustedKeys,
    },
    logger: createLogger({ service: '${name}', level: 'silent' }),
  });

beforeAll(async () => {
  database = await createTestDatabase({
    name: '${name.replaceAll('-', '_')}',
    migrationsDir: migrationsDirOf(new URL('../package.json', import.meta.url)),
  });
});
afterAll(async () => database?.drop());

describe('the ${name} service', () => {
  it('when it starts, then its admin port reports the database and NATS ready', async () => {
    const running = service();
    await running.start();
    try {
      const response = await fetch(\`http://127.0.0.1:\${running.adminPort()}/ready\`);
      expect(await response.json()).toEqual({ status: 'ready', checks: { database: 'ok', nats: 'ok' } });
    } finally {
      await running.stop();
    }
  });
});
`,
    [`prisma/${name}/schema.prisma`]: `// The ${name} service's data. Only services/${name} reads or writes these tables.
// Migrations live beside this file as SQL (prisma/${name}/migrations).

generator client {
  provider               = "prisma-client"
  output                 = "../../services/${name}/src/generated/prisma"
  moduleFormat           = "esm"
  runtime                = "nodejs"
  importFileExtension    = "js"
  generatedFileExtension = "ts"
}

datasource db {
  provider = "postgresql"
}

/// Events written in the same transaction as the change they describe; the kit's relay publishes them.
model Outbox {
  id          String    @id @db.Uuid
  subject     String    @db.VarChar(200)
  payload     Json
  occurredAt  DateTime  @default(now()) @map("occurred_at") @db.Timestamptz(3)
  publishedAt DateTime? @map("published_at") @db.Timestamptz(3)
  /// W3C trace context and request id of the work that enqueued the event.
  headers     Json      @default("{}")

  @@index([publishedAt, occurredAt])
  @@map("outbox")
}

/// Event ids each consumer applied, written in the consumer's transaction (redeliveries are no-ops).
model ProcessedEvent {
  consumer    String
  eventId     String   @map("event_id") @db.Uuid
  processedAt DateTime @default(now()) @map("processed_at") @db.Timestamptz(3)

  @@id([consumer, eventId])
  @@index([processedAt])
  @@map("processed_events")
}

/// The service kit's periodic jobs: one row per job, claimed by one replica per interval.
model PeriodicJob {
  name           String    @id @db.VarChar(100)
  nextRunAt      DateTime  @map("next_run_at") @db.Timestamptz(3)
  leaseUntil     DateTime? @map("lease_until") @db.Timestamptz(3)
  lastStartedAt  DateTime? @map("last_started_at") @db.Timestamptz(3)
  lastFinishedAt DateTime? @map("last_finished_at") @db.Timestamptz(3)
  lastError      String?   @map("last_error")

  @@map("periodic_jobs")
}
`,
    [`prisma/${name}/migrations/migration_lock.toml`]: `# Please do not edit this file manually
# It should be added in your version-control system (e.g., Git)
provider = "postgresql"
`,
    [`prisma/${name}/migrations/00000000000000_kit_tables/migration.sql`]: kitSql,
  };
}

async function main(argv) {
  const positional = argv.filter(
    (argument, index) => !argument.startsWith('--') && argv[index - 1] !== '--root',
  );
  const rootIndex = argv.indexOf('--root');
  const root = rootIndex >= 0 ? argv[rootIndex + 1] : join(dirname(fileURLToPath(import.meta.url)), '..');
  const [name, portText] = positional;
  const adminPort = Number(portText);
  if (!name || !/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/.test(name) || !Number.isInteger(adminPort)) {
    console.error(usage);
    return 2;
  }
  const manifests = readdirSync(join(root, 'services'))
    .filter((folder) => existsSync(join(root, 'services', folder, 'package.json')))
    .map((folder) => ({
      folder,
      ...JSON.parse(readFileSync(join(root, 'services', folder, 'package.json'), 'utf8')).zerostate,
    }));
  const taken = manifests.find((service) => service.bus === name || service.adminPort === adminPort);
  if (taken || existsSync(join(root, 'services', name)) || existsSync(join(root, 'prisma', name))) {
    console.error(`${name} or admin port ${adminPort} is taken${taken ? ` (by ${taken.folder})` : ''}`);
    return 1;
  }
  // The kit's tables (outbox, processed events, periodic jobs), as the kit defines them.
  const kitSql = readFileSync(join(root, 'packages/service-kit/sql/kit-tables.sql'), 'utf8');
  for (const [path, content] of Object.entries(serviceFiles(name, adminPort, kitSql))) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  console.log(`services/${name} and prisma/${name} written. Next (docs/ARCHITECTURE.md "Adding a service"):
  pnpm install && pnpm --filter @zerostate/${name}-service generate
  then: contracts in packages/contracts, endpoints in src/service.ts, deploy/k8s/base/${name}/,
  deploy/compose (${name} and ${name}-migrate), and deploy/compose/postgres-init — the deploy tests list what is missing.`);
  return 0;
}

const invokedDirectly = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) process.exitCode = await main(process.argv.slice(2));
