import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { describeService, listServices, readServiceDescription } from '../src/index.js';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const scratchRoots: string[] = [];

/** A repository root with the given service folders (`null`: a folder without package.json). */
function scratchRepository(services: Record<string, object | null>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'zs-services-'));
  scratchRoots.push(root);
  for (const [name, packageJson] of Object.entries(services)) {
    mkdirSync(path.join(root, 'services', name), { recursive: true });
    if (packageJson)
      writeFileSync(path.join(root, 'services', name, 'package.json'), JSON.stringify(packageJson));
  }
  return root;
}

afterEach(() => {
  for (const root of scratchRoots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('the service description', () => {
  it('when a folder and its bus name differ, then folder, package and k8s use the folder and the rest the bus name', () => {
    expect(describeService('payment-channel', { bus: 'payment', adminPort: 9102 })).toEqual({
      name: 'payment-channel',
      packageName: '@zerostate/payment-channel-service',
      folder: 'services/payment-channel',
      bus: 'payment',
      adminPort: 9102,
      calls: [],
      adminPortVariable: 'PAYMENT_ADMIN_PORT',
      databaseVariable: 'PAYMENT_DATABASE_URL',
      databaseName: 'zerostate_payment',
      migrationsFolder: 'prisma/payment/migrations',
      main: 'services/payment-channel/dist/main.js',
      migrate: 'services/payment-channel/dist/migrate.js',
      sourceMain: 'services/payment-channel/src/main.ts',
    });
  });

  it('when a bus name has a dash, then variables use an underscore and the database too', () => {
    const description = describeService('agent-registry', { bus: 'agent-registry', adminPort: 9200 });
    expect(description.databaseVariable).toBe('AGENT_REGISTRY_DATABASE_URL');
    expect(description.adminPortVariable).toBe('AGENT_REGISTRY_ADMIN_PORT');
    expect(description.databaseName).toBe('zerostate_agent_registry');
  });

  it('when this repository is listed, then auction, auth, payment-channel, reputation and task are found with their ports', () => {
    expect(
      listServices(repositoryRoot).map(({ name, bus, adminPort }) => ({ name, bus, adminPort })),
    ).toEqual([
      { name: 'auction', bus: 'auction', adminPort: 9103 },
      { name: 'auth', bus: 'auth', adminPort: 9101 },
      { name: 'payment-channel', bus: 'payment', adminPort: 9102 },
      { name: 'reputation', bus: 'reputation', adminPort: 9104 },
      { name: 'task', bus: 'task', adminPort: 9105 },
    ]);
  });

  it('when a manifest is missing or wrong, then reading it names the file and the field', () => {
    const root = scratchRepository({
      broken: { name: '@zerostate/broken-service', zerostate: { bus: 'Broken', adminPort: 80 } },
      unnamed: { name: 'something-else', zerostate: { bus: 'unnamed', adminPort: 9300 } },
      bare: { name: '@zerostate/bare-service' },
    });
    const manifest = (name: string) => path.join(root, 'services', name, 'package.json');
    expect(() => readServiceDescription(manifest('broken'))).toThrow(
      /broken.*zerostate\.bus.*zerostate\.adminPort/s,
    );
    expect(() => readServiceDescription(manifest('unnamed'))).toThrow(/@zerostate\/unnamed-service/);
    expect(() => readServiceDescription(manifest('bare'))).toThrow(/bare.*zerostate/);
  });

  it('when two services share a bus name or a port, then listing refuses both names', () => {
    const service = (name: string, bus: string, adminPort: number) => ({
      name: `@zerostate/${name}-service`,
      zerostate: { bus, adminPort },
    });
    const sharedBus = scratchRepository({
      one: service('one', 'same', 9301),
      two: service('two', 'same', 9302),
    });
    expect(() => listServices(sharedBus)).toThrow(/one and two share bus same/);
    const sharedPort = scratchRepository({
      one: service('one', 'one', 9301),
      two: service('two', 'two', 9301),
    });
    expect(() => listServices(sharedPort)).toThrow(/one and two share adminPort 9301/);
  });

  it('when a folder under services has no package.json, then it is not a service', () => {
    const root = scratchRepository({
      scratch: null,
      real: { name: '@zerostate/real-service', zerostate: { bus: 'real', adminPort: 9400 } },
    });
    expect(listServices(root).map((service) => service.name)).toEqual(['real']);
  });
});
