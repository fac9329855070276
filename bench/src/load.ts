import autocannon from 'autocannon';

export interface LoadResult {
  label: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  /** Responses received during the run, whatever their status. */
  completed: number;
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  headers?: Record<string, string>;
}

/** Drives one URL with autocannon on loopback for a bounded time. */
export async function load(label: string, options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    headers: options.headers,
  });
  return {
    label,
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    completed: result.requests.total,
  };
}

export function printTable(title: string, rows: LoadResult[], baseline: LoadResult): void {
  console.log(`\n## ${title}`);
  console.log('| path | req/s | p50 ms | p99 ms | non-2xx | req/s vs baseline | p99 vs baseline |');
  console.log('|---|---|---|---|---|---|---|');
  for (const row of rows) {
    const throughput = (row.requestsPerSecond / baseline.requestsPerSecond).toFixed(2);
    const tail = (row.p99Ms / Math.max(baseline.p99Ms, 1)).toFixed(2);
    console.log(
      `| ${row.label} | ${row.requestsPerSecond} | ${row.p50Ms} | ${row.p99Ms} | ${row.non2xx} | ${throughput}x | ${tail}x |`,
    );
  }
}
