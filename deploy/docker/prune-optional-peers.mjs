// Shrinks a `pnpm deploy --prod` output. pnpm links a package's *optional* peer dependencies
// whenever the workspace provides them, even in a production deploy: @prisma/client names the
// Prisma CLI and TypeScript as optional peers, so the services' images would carry the CLI,
// Prisma Studio, React and TypeScript (~280 MB) that nothing imports at run time.
// This script unlinks optional peers the app does not depend on itself, then deletes every
// package of the virtual store that the app's dependencies no longer reach.
// Usage: node prune-optional-peers.mjs <deploy directory>
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(process.argv[2] ?? '.');
const modulesDir = path.join(root, 'node_modules');
const storeDir = path.join(modulesDir, '.pnpm');

/** Package folders (name → path) directly inside a node_modules folder, scoped ones included. */
function packagesIn(directory) {
  const found = new Map();
  if (!existsSync(directory)) return found;
  for (const entry of readdirSync(directory)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const scoped of readdirSync(path.join(directory, entry))) {
        found.set(`${entry}/${scoped}`, path.join(directory, entry, scoped));
      }
    } else {
      found.set(entry, path.join(directory, entry));
    }
  }
  return found;
}

/** The virtual-store entry (`.pnpm/<entry>/node_modules/<name>`) a real path belongs to. */
function storeEntryOf(realPath) {
  const relative = path.relative(storeDir, realPath);
  return relative.startsWith('..') ? undefined : relative.split(path.sep)[0];
}

function readManifest(packagePath) {
  try {
    return JSON.parse(readFileSync(path.join(packagePath, 'package.json'), 'utf8'));
  } catch {
    return {};
  }
}

function unlinkUnwantedOptionalPeers(topLevelNames) {
  let unlinked = 0;
  for (const entry of readdirSync(storeDir)) {
    const entryModules = path.join(storeDir, entry, 'node_modules');
    if (entry === 'node_modules' || !existsSync(entryModules)) continue;
    const linked = packagesIn(entryModules);
    // The entry's own package is the one real folder; its dependencies are symbolic links.
    const ownPackages = [...linked.values()].filter(
      (packagePath) => !lstatSync(packagePath).isSymbolicLink(),
    );
    for (const packagePath of ownPackages) {
      const optionalPeers = Object.entries(readManifest(packagePath).peerDependenciesMeta ?? {})
        .filter(([, meta]) => meta?.optional)
        .map(([name]) => name);
      for (const peer of optionalPeers) {
        if (linked.has(peer) && !topLevelNames.has(peer)) {
          rmSync(linked.get(peer), { force: true });
          linked.delete(peer);
          unlinked += 1;
        }
      }
    }
  }
  return unlinked;
}

function reachableStoreEntries(topLevel) {
  const reached = new Set();
  const queue = [...topLevel.values()];
  while (queue.length > 0) {
    const next = queue.pop();
    if (!existsSync(next)) continue;
    const entry = storeEntryOf(realpathSync(next));
    if (entry === undefined) {
      // A package outside the store (an injected workspace package): follow its own node_modules.
      queue.push(...packagesIn(path.join(realpathSync(next), 'node_modules')).values());
      continue;
    }
    if (reached.has(entry)) continue;
    reached.add(entry);
    queue.push(...packagesIn(path.join(storeDir, entry, 'node_modules')).values());
  }
  return reached;
}

function removeDanglingLinks(directory) {
  for (const [, linkPath] of packagesIn(directory)) {
    if (lstatSync(linkPath).isSymbolicLink() && !existsSync(linkPath)) rmSync(linkPath, { force: true });
  }
}

const topLevel = packagesIn(modulesDir);
const unlinked = unlinkUnwantedOptionalPeers(new Set(topLevel.keys()));
const reached = reachableStoreEntries(topLevel);
let removed = 0;
for (const entry of readdirSync(storeDir)) {
  if (entry === 'node_modules' || entry.endsWith('.yaml') || entry.endsWith('.json') || reached.has(entry))
    continue;
  rmSync(path.join(storeDir, entry), { recursive: true, force: true });
  removed += 1;
}
removeDanglingLinks(path.join(storeDir, 'node_modules'));
console.error(`pruned ${unlinked} optional peer link(s) and ${removed} unreachable package(s) in ${root}`);
