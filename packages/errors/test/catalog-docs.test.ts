import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { errorCatalog, errorCodes } from '../src/index.js';

const documentation = readFileSync(join(import.meta.dirname, '../../../docs/API.md'), 'utf8');
const documentedRows = new Map(
  [...documentation.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (yes|no) \|/gm)].map((match) => [
    match[1]!,
    { status: Number(match[2]), retryable: match[3] === 'yes' },
  ]),
);

test('when the catalog changes, then docs/API.md lists every code with the same status and retryability', () => {
  for (const code of errorCodes) {
    expect(documentedRows.get(code), `docs/API.md is missing ${code}`).toEqual({
      status: errorCatalog[code].status,
      retryable: errorCatalog[code].retryable,
    });
  }
});

test('when docs/API.md lists a code, then the catalog has it', () => {
  expect(documentedRows.size).toBeGreaterThan(0);
  for (const code of documentedRows.keys()) expect(errorCodes).toContain(code);
});
