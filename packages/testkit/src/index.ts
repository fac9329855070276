export { captureLines, metricTotal, metricValue, undeclaredErrorsIn } from './capture.js';
export { createTestDatabase, runSql, type TestDatabase } from './database.js';
export { codeOf } from './errors.js';
export { readStreamMessages } from './jetstream-reader.js';
export { freePort, uniqueName } from './names.js';
export * from './otlp-receiver.js';
export {
  type ProcessOptions,
  type RunningProcess,
  repositoryRoot,
  startProcess,
  waitUntil,
} from './processes.js';
export { startNatsServer, startRedisServer, type TestServer } from './servers.js';
export { type RunningStack, type StackOptions, type StackService, stackPlan, startStack } from './stack.js';
