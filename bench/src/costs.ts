import { metricTotal } from '@zerostate/testkit';
import type { LoadResult } from './load.js';

/** CPU used by one server process per answered request during one run, and its event-loop delay. */
export interface ProcessCost {
  process: string;
  cpuMsPerRequest: number;
  eventLoopP99Ms: number;
}

/** One scrape per process; each scrape also closes that process's event-loop delay window. */
async function scrapeProcesses(targets: [string, string][]) {
  return Promise.all(
    targets.map(async ([process, url]) => {
      const text = await (await fetch(url)).text();
      return {
        process,
        cpuSeconds: metricTotal(text, 'process_cpu_seconds_total'),
        eventLoopP99Ms: metricTotal(text, 'nodejs_eventloop_delay_p99_seconds') * 1000,
      };
    }),
  );
}

/**
 * Runs one measured load and reads, from each process's own `/metrics` (`[name, url]`), what it
 * cost: `process_cpu_seconds_total` before and after, divided by the answered requests.
 */
export async function withProcessCosts(
  targets: [string, string][],
  run: () => Promise<LoadResult>,
): Promise<{ result: LoadResult; costs: ProcessCost[] }> {
  const before = await scrapeProcesses(targets);
  const result = await run();
  const after = await scrapeProcesses(targets);
  const costs = after.map((sample, index) => ({
    process: sample.process,
    cpuMsPerRequest: ((sample.cpuSeconds - before[index]!.cpuSeconds) * 1000) / Math.max(result.completed, 1),
    eventLoopP99Ms: sample.eventLoopP99Ms,
  }));
  return { result, costs };
}

export function printCosts(rows: { label: string; costs: ProcessCost[] }[]): void {
  const names = rows[0]!.costs.map((cost) => cost.process);
  console.log(
    `\n| path | ${names.map((name) => `${name} CPU ms/req`).join(' | ')} | event-loop p99 ms (${names.join(' / ')}) |`,
  );
  console.log(`|---|${names.map(() => '---|').join('')}---|`);
  for (const { label, costs } of rows) {
    const cpu = costs.map((cost) => cost.cpuMsPerRequest.toFixed(2)).join(' | ');
    const loop = costs.map((cost) => cost.eventLoopP99Ms.toFixed(1)).join(' / ');
    console.log(`| ${label} | ${cpu} | ${loop} |`);
  }
}
