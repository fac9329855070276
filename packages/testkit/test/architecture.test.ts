import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');

function sourceFiles(directory: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(directory)) {
    if (name === 'node_modules' || name === 'dist' || name === 'generated') continue;
    const path = join(directory, name);
    if (statSync(path).isDirectory()) found.push(...sourceFiles(path));
    else if (/\.(ts|mts|js|mjs)$/.test(name)) found.push(path);
  }
  return found;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map(
    (match) => match[1]!,
  );
}

/** The top-level unit a path belongs to: `services/auth`, `packages/bus`, `gateway`, … */
function unitOf(path: string): string {
  const parts = relative(root, path).split(sep);
  return parts[0] === 'services' || parts[0] === 'packages' ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

const units = [
  'gateway',
  ...['services', 'packages'].flatMap((top) => readdirSync(join(root, top)).map((name) => `${top}/${name}`)),
];

function violations(unit: string, forbidden: (target: string) => boolean): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(join(root, unit))) {
    for (const specifier of importsOf(file)) {
      const target = specifier.startsWith('.') ? unitOf(resolve(file, '..', specifier)) : specifier;
      if (target !== unit && forbidden(target)) found.push(`${relative(root, file)} imports ${specifier}`);
    }
  }
  return found;
}

const isService = (target: string) =>
  target.startsWith('services/') || /^@zerostate\/.*-service$/.test(target);
const isGateway = (target: string) => target === 'gateway' || target === '@zerostate/gateway';

describe('when the code base is scanned', () => {
  test('then it finds the units it is meant to check', () => {
    expect(units).toContain('services/auth');
    expect(units).toContain('packages/bus');
  });

  test.each(units.filter((unit) => unit.startsWith('services/')))(
    'then %s imports no other service and not the gateway',
    (unit) => {
      expect(violations(unit, (target) => isService(target) || isGateway(target))).toEqual([]);
    },
  );

  test.each(units.filter((unit) => unit.startsWith('packages/')))(
    'then %s imports no service and not the gateway',
    (unit) => {
      expect(violations(unit, (target) => isService(target) || isGateway(target))).toEqual([]);
    },
  );

  test('then the gateway imports no service', () => {
    expect(violations('gateway', isService)).toEqual([]);
  });

  test('then the scanner does catch a cross-service import', () => {
    const file = join(root, 'services/auth/src/example.ts');
    const target = unitOf(resolve(file, '..', '../../payment-channel/src/domain.js'));
    expect(isService(target) && target !== 'services/auth').toBe(true);
  });
});
