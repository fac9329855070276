import { histogram, type Registry } from '@zerostate/observability';

/** What Prisma passes to a `query.$allOperations` hook (model is absent for raw queries). */
export interface QueryHookParameters {
  model?: string;
  operation: string;
  args: unknown;
  query: (args: never) => PromiseLike<unknown>;
}

/** A Prisma client extension object, typed structurally so no generated client is needed here. */
export interface QueryMetricsExtension {
  name: string;
  query: {
    $allOperations(parameters: QueryHookParameters): Promise<unknown>;
  };
}

/** The `model` label of raw queries (`$queryRaw`, `$executeRaw`, ...), which have no model. */
const rawModelLabel = 'raw';

/**
 * A Prisma client extension that observes `db_query_duration_seconds{model,operation}` for every
 * model operation and raw query, failed ones included. Use it on any service's generated client:
 * `prisma.$extends(queryMetricsExtension(registry))`.
 */
export function queryMetricsExtension(registry: Registry): QueryMetricsExtension {
  const duration = histogram(registry, 'db_query_duration_seconds', 'Prisma query duration in seconds.', [
    'model',
    'operation',
  ]);
  return {
    name: 'zerostate-query-metrics',
    query: {
      async $allOperations({ model, operation, args, query }) {
        const stopTimer = duration.startTimer({ model: model ?? rawModelLabel, operation });
        try {
          return await query(args as never);
        } finally {
          stopTimer();
        }
      },
    },
  };
}
