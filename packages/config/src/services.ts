import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * What a service states about itself in its package.json, under `"zerostate"`. Everything else
 * the tooling needs (environment variable names, database, migrations, entry points) follows
 * from these two facts and the folder name by the one mapping in `describeService`.
 */
export const serviceManifestSchema = z.strictObject({
  /** The NATS micro-service name and queue group; subjects are `svc.<bus>.<verb>`. */
  bus: z.string().regex(/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/, 'lowercase kebab'),
  /** The admin port (/health, /ready, /metrics) the service listens on by default. */
  adminPort: z.int().min(1024).max(65_535),
  /**
   * Bus names of the services this one calls as itself (its own principal, `servicePrincipal`).
   * Each names a link: the caller gets its key in BUS_SIGNING_KEYS, the callee in BUS_TRUSTED_KEYS.
   */
  calls: z
    .array(z.string().regex(/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/, 'lowercase kebab'))
    .max(16)
    .default([]),
});

/** One service as every tool sees it: start script, test stack, gateway readiness, deploy tests. */
export interface ServiceDescription {
  /** Folder under services/, Kubernetes and compose name, log `service` field. */
  name: string;
  /** Workspace package name (`@zerostate/<name>-service`). */
  packageName: string;
  /** `services/<name>` relative to the repository root. */
  folder: string;
  /** NATS micro-service name and queue group (`$SRV.PING.<bus>`); also names env, database and schema. */
  bus: string;
  adminPort: number;
  /** Bus names of the services it calls as itself. */
  calls: string[];
  /** `<BUS>_ADMIN_PORT`. */
  adminPortVariable: string;
  /** `<BUS>_DATABASE_URL`. */
  databaseVariable: string;
  /** `zerostate_<bus>`: the database a development machine uses. */
  databaseName: string;
  /** `prisma/<bus>/migrations` relative to the repository root. */
  migrationsFolder: string;
  /** Built entry points relative to the repository root. */
  main: string;
  migrate: string;
  /** Source entry point (run through tsx by tests). */
  sourceMain: string;
}

/** The environment-variable prefix of a bus name: `payment` → `PAYMENT`, `agent-x` → `AGENT_X`. */
export function environmentPrefixOf(bus: string): string {
  return bus.toUpperCase().replaceAll('-', '_');
}

/**
 * The one mapping from a service's folder name and manifest to every name the system uses.
 * Folder, package and Kubernetes object use `name`; NATS, environment variables, the database
 * and the Prisma folder use `bus`. New services use the same word for both; `payment-channel`
 * (bus `payment`) is the one service whose two names differ.
 */
export function describeService(
  name: string,
  manifest: z.input<typeof serviceManifestSchema>,
): ServiceDescription {
  const prefix = environmentPrefixOf(manifest.bus);
  const folder = `services/${name}`;
  return {
    name,
    packageName: `@zerostate/${name}-service`,
    folder,
    bus: manifest.bus,
    adminPort: manifest.adminPort,
    calls: [...(manifest.calls ?? [])],
    adminPortVariable: `${prefix}_ADMIN_PORT`,
    databaseVariable: `${prefix}_DATABASE_URL`,
    databaseName: `zerostate_${manifest.bus.replaceAll('-', '_')}`,
    migrationsFolder: `prisma/${manifest.bus}/migrations`,
    main: `${folder}/dist/main.js`,
    migrate: `${folder}/dist/migrate.js`,
    sourceMain: `${folder}/src/main.ts`,
  };
}

/** Reads one service's description from its package.json; throws naming the file when it is wrong. */
export function readServiceDescription(packageJsonPath: string): ServiceDescription {
  const packageJson = JSON.parse(readFileSync(packageJsonPath, 'utf8')) as {
    name?: unknown;
    zerostate?: unknown;
  };
  const name = path.basename(path.dirname(packageJsonPath));
  const parsed = serviceManifestSchema.safeParse(packageJson.zerostate);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `zerostate.${issue.path.join('.')}: ${issue.message}`,
    );
    throw new Error(`${packageJsonPath}: ${problems.join('; ')}`);
  }
  const description = describeService(name, parsed.data);
  if (packageJson.name !== description.packageName) {
    throw new Error(`${packageJsonPath}: the package must be named ${description.packageName}`);
  }
  return description;
}

/**
 * Every service under `<repositoryRoot>/services`, sorted by name. A folder there without a
 * package.json is ignored (an editor's scratch folder); one with a package.json must describe
 * itself, and names, bus names and admin ports must be unique, or this throws.
 */
export function listServices(repositoryRoot: string): ServiceDescription[] {
  const servicesRoot = path.join(repositoryRoot, 'services');
  if (!existsSync(servicesRoot)) return [];
  // By name, not Dirent type: a symlinked service folder counts like a real one.
  const descriptions = readdirSync(servicesRoot)
    .filter((name) => existsSync(path.join(servicesRoot, name, 'package.json')))
    .map((name) => readServiceDescription(path.join(servicesRoot, name, 'package.json')))
    .sort((left, right) => left.name.localeCompare(right.name));
  for (const field of ['bus', 'adminPort'] as const) {
    const seen = new Map<unknown, string>();
    for (const description of descriptions) {
      const other = seen.get(description[field]);
      if (other)
        throw new Error(`services ${other} and ${description.name} share ${field} ${description[field]}`);
      seen.set(description[field], description.name);
    }
  }
  const buses = new Set(descriptions.map((description) => description.bus));
  for (const description of descriptions) {
    const unknown = description.calls.filter((bus) => !buses.has(bus) || bus === description.bus);
    if (unknown.length > 0)
      throw new Error(`${description.name} calls unknown services: ${unknown.join(', ')}`);
  }
  return descriptions;
}
