import { fileURLToPath, pathToFileURL } from 'node:url';
import { readServiceDescription } from '@zerostate/config';
import { verifyStoredClearings } from './db/verify-clearings.js';

/**
 * `pnpm verify-clearings [auction-id …]`: recomputes stored clearings from their own inputs and
 * prints each auction whose record or award differs, as one JSON line; exit code 1 if any does.
 * Reads AUCTION_DATABASE_URL (the development database by default).
 */
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const service = readServiceDescription(fileURLToPath(new URL('../package.json', import.meta.url)));
  const connectionString =
    process.env[service.databaseVariable] ?? `postgresql://postgres@127.0.0.1:5432/${service.databaseName}`;
  const ids = process.argv.slice(2).filter((argument) => argument !== '--');
  const { checked, differing } = await verifyStoredClearings(connectionString, ids.length > 0 ? { ids } : {});
  for (const report of differing) process.stdout.write(`${JSON.stringify(report)}\n`);
  process.stdout.write(`${checked} clearings checked, ${differing.length} differ\n`);
  if (differing.length > 0) process.exitCode = 1;
}
