import autocannon from 'autocannon';
import type { ProcessCost } from './costs.js';

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

/** One load's answer and what it cost each process (see `withProcessCosts`). */
export interface Measured {
  result: LoadResult;
  costs: ProcessCost[];
}

/** A load to be measured in turns: `warmUp` runs it unmeasured, `measure` measures it. */
export interface TurnLoad {
  warmUp(seconds: number): Promise<unknown>;
  measure(seconds: number): Promise<Measured>;
}

/**
 * Runs loads that are to be compared in turns, `durationSeconds` each in all, cut into slices
 * taken one after another (A B C A B C A B C) and merged per load. The machine's speed drifts by
 * tens of percent within a minute here (other tenants, frequency), so loads measured one whole
 * run after the other compare the drift as much as the loads; in turns, the drift weighs on each
 * alike. Each slice follows a second of the same load, unmeasured: the first second after a
 * switch cost more than the rest (whichever bid load came right after `/users/me` cost ~10% more
 * CPU per bid in the auction service), and that belongs to neither load. Merged: req/s is the
 * mean of the slices (equal lengths), counts add up, p50 and p99 are the slices' percentiles
 * weighted by their answers (autocannon gives no raw histogram), CPU per request is all slices'
 * CPU over all their answers, event-loop p99 the worst slice's.
 */
export async function inTurns(loads: TurnLoad[], durationSeconds: number): Promise<Measured[]> {
  const turns = durationSeconds >= 9 ? 3 : 1;
  const sliceSeconds = Math.max(1, Math.round(durationSeconds / turns));
  const slices: Measured[][] = loads.map(() => []);
  for (let turn = 0; turn < turns; turn += 1)
    for (const [index, load] of loads.entries()) {
      await load.warmUp(1);
      slices[index]!.push(await load.measure(sliceSeconds));
    }
  return slices.map(mergeSlices);
}

function mergeSlices(slices: Measured[]): Measured {
  const answers = slices.reduce((sum, slice) => sum + slice.result.completed, 0);
  const weighted = (value: (slice: Measured) => number) =>
    slices.reduce((sum, slice) => sum + value(slice) * slice.result.completed, 0) / Math.max(answers, 1);
  const first = slices[0]!;
  return {
    result: {
      label: first.result.label,
      requestsPerSecond: Math.round(
        slices.reduce((sum, slice) => sum + slice.result.requestsPerSecond, 0) / slices.length,
      ),
      p50Ms: Math.round(weighted((slice) => slice.result.p50Ms) * 100) / 100,
      p99Ms: Math.round(weighted((slice) => slice.result.p99Ms) * 100) / 100,
      non2xx: slices.reduce((sum, slice) => sum + slice.result.non2xx, 0),
      errors: slices.reduce((sum, slice) => sum + slice.result.errors, 0),
      completed: answers,
    },
    costs: first.costs.map((cost, index) => ({
      process: cost.process,
      cpuMsPerRequest: weighted((slice) => slice.costs[index]!.cpuMsPerRequest),
      eventLoopP99Ms: Math.max(...slices.map((slice) => slice.costs[index]!.eventLoopP99Ms)),
    })),
  };
}
