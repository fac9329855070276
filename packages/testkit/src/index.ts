export { createTestDatabase, type TestDatabase } from './database.js';
export { freePort, uniqueName } from './names.js';
export * from './otlp-receiver.js';
export { startNatsServer, startRedisServer, type TestServer } from './servers.js';
