export { checkSchemaDrift, type SchemaDriftOptions } from './drift.js';
export { enqueueEvent, type OutboxInsert, type OutboxWriter, outboxInsertOf } from './enqueue-event.js';
export { ensureDatabase } from './ensure-database.js';
export { isTransientError, mapPrismaError, withTransientRetry } from './errors.js';
export { uuidV7 } from './ids.js';
export { type MigrateOptions, migrate } from './migrate.js';
export { pgOutboxStore, prunePublishedOutbox } from './outbox.js';
export { pgTransactions } from './pg-transactions.js';
export {
  createPool,
  createServicePool,
  instrumentPool,
  type PoolOptions,
  type PoolSettings,
} from './pool.js';
export {
  type PrismaDataModel,
  type PrismaEnum,
  type PrismaField,
  type PrismaModel,
  prismaClientModels,
  prismaModelsFromSchema,
} from './prisma-schema.js';
export { type AgedTable, deleteAgedBatch } from './prune.js';
export {
  type QueryHookParameters,
  type QueryMetricsExtension,
  queryMetricsExtension,
} from './query-metrics.js';
export {
  databaseError,
  type IsolationLevel,
  inStatement,
  inTransaction,
  isUniqueViolation,
  lockForTransaction,
  type RawSqlClient,
  type TransactionalClient,
  type TransactionOptions,
  tryLockForTransaction,
} from './transactions.js';
