import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { repositoryRoot } from '@zerostate/testkit';
import type { LoadResult } from './load.js';

const nodeBinary = process.env.BENCH_NODE ?? process.execPath;
const partsScript = join(repositoryRoot, 'bench/src/parts.mjs');

/** One part of a path measured alone: its throughput and latency at the scenario's concurrency. */
export interface PartResult {
  label: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

function runPart(args: string[]): { child: ChildProcess; output: Promise<string> } {
  const child = spawn(nodeBinary, [partsScript, ...args], {
    cwd: join(repositoryRoot, 'bench'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const output = new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (args[0] === 'nats-responder' && text.includes('ready')) resolve(text);
    });
    child.once('exit', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`part ${args[0]} exited ${code}`)),
    );
  });
  return { child, output };
}

async function measurePart(label: string, args: string[]): Promise<PartResult> {
  const line = (await runPart(args).output).trim().split('\n').pop()!;
  const result = JSON.parse(line) as { perSecond: number; p50Ms: number; p99Ms: number };
  return { label, requestsPerSecond: result.perSecond, p50Ms: result.p50Ms, p99Ms: result.p99Ms };
}

export interface BoundTargets {
  connections: number;
  durationSeconds: number;
  redisUrl: string;
  natsUrl: string;
  databaseUrl: string;
  /** A row the Postgres part selects by primary key (the bench user). */
  userId: string;
  /** The pool size the service runs with (the stack's DB_POOL_MAX). */
  poolSize: number;
}

/**
 * The parts a `GET /users/me` is made of, each alone at the same concurrency, in this order:
 * a Redis GET, a NATS request/reply between two Node processes, a Postgres primary-key select.
 * Each driver is its own Node process, so each part's number includes a Node client's cost.
 */
export async function measureParts(targets: BoundTargets): Promise<PartResult[]> {
  const { connections, durationSeconds } = targets;
  const common = [String(connections), String(durationSeconds)];
  const redis = await measurePart('Redis GET (ioredis)', ['redis', ...common, targets.redisUrl]);
  const subject = `bench.bound.${process.pid}`;
  const responder = runPart(['nats-responder', targets.natsUrl, subject]);
  let nats: PartResult;
  try {
    await responder.output;
    nats = await measurePart('NATS request/reply (two Node processes)', [
      'nats',
      ...common,
      targets.natsUrl,
      subject,
    ]);
  } finally {
    responder.child.kill('SIGTERM');
  }
  const postgres = await measurePart(`Postgres primary-key select (pool of ${targets.poolSize})`, [
    'postgres',
    ...common,
    targets.databaseUrl,
    targets.userId,
    String(targets.poolSize),
  ]);
  return [redis, nats, postgres];
}

/**
 * The serial bound of parts that share the machine: a request that needs each part once can go
 * no faster than 1 / Σ (1 / rate of each part alone); p99s add up the same way.
 */
export function composedBound(parts: PartResult[]): PartResult {
  return {
    label: `composed bound (${parts.length} parts in series)`,
    requestsPerSecond: Math.round(1 / parts.reduce((sum, part) => sum + 1 / part.requestsPerSecond, 0)),
    p50Ms: Math.round(parts.reduce((sum, part) => sum + part.p50Ms, 0) * 100) / 100,
    p99Ms: Math.round(parts.reduce((sum, part) => sum + part.p99Ms, 0) * 100) / 100,
  };
}

export function printBound(
  parts: PartResult[],
  bound: PartResult,
  scenarios: LoadResult[],
  express: LoadResult,
): void {
  console.log('\n| part (alone, same concurrency) | req/s | p50 ms | p99 ms |');
  console.log('|---|---|---|---|');
  for (const part of [...parts, bound]) {
    console.log(`| ${part.label} | ${part.requestsPerSecond} | ${part.p50Ms} | ${part.p99Ms} |`);
  }
  console.log('\n| path | req/s | share of composed bound | p99 ms | p99 vs bare Express p99 |');
  console.log('|---|---|---|---|---|');
  for (const scenario of scenarios) {
    const share = ((scenario.requestsPerSecond / bound.requestsPerSecond) * 100).toFixed(0);
    const tail = (scenario.p99Ms / Math.max(express.p99Ms, 1)).toFixed(2);
    console.log(
      `| ${scenario.label} | ${scenario.requestsPerSecond} | ${share}% | ${scenario.p99Ms} | ${tail}x |`,
    );
  }
}
