import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

/** The repository root (deploy/test/support → three levels up). */
export const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const deployRoot = path.join(repositoryRoot, 'deploy');
export const kubernetesRoot = path.join(deployRoot, 'k8s');

export function readText(relativePath: string): string {
  return readFileSync(path.join(repositoryRoot, relativePath), 'utf8');
}

export function isDirectory(absolutePath: string): boolean {
  return existsSync(absolutePath) && statSync(absolutePath).isDirectory();
}

/** Every file under `directory` whose name passes `accept`, skipping node_modules. */
export function listFiles(directory: string, accept: (name: string) => boolean): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const absolutePath = path.join(directory, entry.name);
    if (entry.isDirectory()) found.push(...listFiles(absolutePath, accept));
    else if (accept(entry.name)) found.push(absolutePath);
  }
  return found.sort();
}

export const isYamlFile = (name: string) => name.endsWith('.yaml') || name.endsWith('.yml');

/**
 * Parses every document of a YAML file and throws on the first syntax error. `merge: true`
 * honours `<<:` merge keys (docker-compose.yml uses them); YAML 1.2 alone would not.
 */
export function parseYamlDocuments(absolutePath: string): unknown[] {
  const documents = parseAllDocuments(readFileSync(absolutePath, 'utf8'), { merge: true });
  const list = Array.isArray(documents) ? documents : [documents];
  for (const document of list) {
    if (document.errors.length > 0) {
      throw new Error(`${absolutePath}: ${document.errors.map((error) => error.message).join('; ')}`);
    }
  }
  return list.map((document) => document.toJS()).filter((value) => value !== null && value !== undefined);
}

export function parseYamlFile<T>(relativePath: string): T {
  return parse(readText(relativePath), { merge: true }) as T;
}

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of every Markdown heading in a document. */
export function markdownAnchors(relativePath: string): Set<string> {
  const headings = readText(relativePath)
    .split('\n')
    .filter((line) => /^#{1,6}\s/.test(line))
    .map((line) => line.replace(/^#{1,6}\s+/, ''));
  return new Set(headings.map(headingAnchor));
}
