// Sums the vitest JSON reports of every package into the one line CI reads. A test file that
// failed to load has no failed tests of its own, so it counts as one failure.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const directory = process.argv[2] ?? 'test-results';
let passed = 0;
let failed = 0;
for (const file of readdirSync(directory).filter((name) => name.endsWith('.json'))) {
  const report = JSON.parse(readFileSync(join(directory, file), 'utf8'));
  passed += report.numPassedTests ?? 0;
  const failedTests = report.numFailedTests ?? 0;
  failed += failedTests > 0 ? failedTests : (report.numFailedTestSuites ?? 0);
}
console.log(`${passed} passed, ${failed} failed`);
