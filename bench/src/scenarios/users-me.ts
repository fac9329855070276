import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { RunningStack } from '@zerostate/testkit';
import { repositoryRoot } from '@zerostate/testkit';
import { composedBound, measureParts, printBound } from '../bound.js';
import { printCosts, withProcessCosts } from '../costs.js';
import { inTurns, type LoadResult, load, type Measured, printTable, type TurnLoad } from '../load.js';
import {
  printProfiles,
  profileDirFromEnv,
  profileWritten,
  profilingEnv,
  summarizeProfiles,
  toggleProfiles,
} from '../profile.js';
import { postJson, startBaseline, startSystem } from '../system.js';

interface Options {
  connections: number;
  durationSeconds: number;
}

const label = 'gateway GET /api/v1/users/me (JWT + rate limit + NATS + Postgres)';
const tracedLabel = 'the same with tracing on (OTLP to the testkit receiver)';

/** The testkit's OTLP receiver in a child process; answers its endpoint and a span counter. */
async function startSink() {
  const child = fork(join(repositoryRoot, 'bench/src/otlp-sink.mjs'), [], {
    cwd: join(repositoryRoot, 'bench'),
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const endpoint = await new Promise<string>((done) =>
    child.once('message', (message) => done((message as { endpoint: string }).endpoint)),
  );
  const spans = () =>
    new Promise<{ spans: number; cpuMs: number }>((done) => {
      child.once('message', (message) => done(message as { spans: number; cpuMs: number }));
      child.send('count');
    });
  return { endpoint, spans, stop: () => child.kill('SIGTERM') };
}

/** One stack: a registered user, warmed up; `slice` is one measured slice with each process's CPU per request. */
async function prepareStack(system: RunningStack, runLabel: string, profiled = false) {
  const session = await postJson(`${system.baseUrl}/api/v1/auth/register`, {
    email: `bench.${Date.now()}.${Math.random().toString(36).slice(2)}@example.com`,
    password: 'benchmark password 1',
  });
  const headers = { authorization: `Bearer ${String(session.access_token)}` };
  const url = `${system.baseUrl}/api/v1/users/me`;
  // Warm the JWKS and token caches, connection pools and JIT before measuring.
  await load('warm-up', { url, connections: 10, durationSeconds: 2, headers });
  // The profile hook starts and stops sampling on SIGUSR2, so the profiles are the measured slices alone.
  const profiledProcesses = profiled ? [system.gateway.child, system.services.auth!.process.child] : [];
  /** Answers of the unmeasured seconds between slices (their spans reach the receiver too). */
  const warmed = { answers: 0 };
  const slice = (options: Options): TurnLoad => ({
    warmUp: async (seconds) => {
      const warm = await load('warm-up', {
        url,
        headers,
        connections: options.connections,
        durationSeconds: seconds,
      });
      warmed.answers += warm.completed;
    },
    measure: async (seconds) => {
      toggleProfiles(profiledProcesses);
      const measured = await withProcessCosts(
        [
          ['gateway', `${system.baseUrl}/metrics`],
          ['auth', `${system.services.auth!.adminUrl}/metrics`],
        ],
        () => load(runLabel, { url, headers, connections: options.connections, durationSeconds: seconds }),
      );
      toggleProfiles(profiledProcesses);
      return measured;
    },
  });
  return { slice, warmed, userId: String((session.user as { id: string }).id) };
}

/**
 * Bare node:http and Express hello, then `GET /api/v1/users/me` through the built gateway (JWT
 * verify + Redis token bucket + NATS request + a Postgres read in the auth service), then the
 * parts of that path each alone at the same concurrency (Redis GET, NATS request/reply between
 * two Node processes, a Postgres primary-key select) for the composed bound, then the same path
 * with tracing exported to the testkit's receiver, both stacks up at once and measured in turns.
 * All in one run, so ratios hold on a noisy machine. `BENCH_TRACING=0` skips the traced run; `BENCH_PROFILE=<dir>` samples the untraced stack's
 * CPU (bench/src/cpu-profile-hook.mjs, like `--cpu-prof`) and prints self time by package per process.
 */
export async function usersMe(options: Options) {
  const results: LoadResult[] = [];
  for (const kind of ['http', 'express'] as const) {
    const baseline = await startBaseline(kind);
    try {
      results.push(
        await load(`bare ${kind === 'http' ? 'node:http' : 'Express 5'} hello`, {
          url: baseline.url,
          ...options,
        }),
      );
    } finally {
      await baseline.stop();
    }
  }
  const express = results[1]!;
  const profileDir = profileDirFromEnv();
  // The limiter still runs on every request (Redis token bucket); only its capacity is raised so
  // the measurement is of the path, not of 429s.
  const limits = { RATE_LIMIT_CAPACITY: '100000000', RATE_LIMIT_REFILL_PER_MINUTE: '100000000' };
  const tracedProfileDir = profileDir ? join(profileDir, 'traced') : undefined;
  const tracing = process.env.BENCH_TRACING !== '0';
  const system = await startSystem({ ...limits, ...profilingEnv(profileDir) });
  let plain: Measured;
  let traced: Measured | undefined;
  let parts: Awaited<ReturnType<typeof measureParts>>;
  let spans = 0;
  /** Traced answers while the receiver was counting: the measured slices and the warm seconds between. */
  let tracedAnswers = 1;
  let sinkCpuMs = 0;
  try {
    const plainStack = await prepareStack(system, label, profileDir !== undefined);
    if (tracing) {
      // Both stacks run at once and are measured in turns (`inTurns`), so the machine's drift
      // during the run does not pass for the cost of tracing.
      const sink = await startSink();
      const tracedSystem = await startSystem({
        ...limits,
        ...profilingEnv(tracedProfileDir),
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
      });
      try {
        const tracedStack = await prepareStack(tracedSystem, tracedLabel, tracedProfileDir !== undefined);
        const sinkBefore = await sink.spans();
        [plain, traced] = (await inTurns(
          [plainStack.slice(options), tracedStack.slice(options)],
          options.durationSeconds,
        )) as [Measured, Measured];
        if (tracedProfileDir) await profileWritten();
        const sinkAfter = await sink.spans();
        spans = sinkAfter.spans - sinkBefore.spans;
        tracedAnswers = Math.max(1, traced!.result.completed + tracedStack.warmed.answers);
        sinkCpuMs = sinkAfter.cpuMs - sinkBefore.cpuMs;
      } finally {
        await tracedSystem.stop();
        sink.stop();
      }
    } else {
      [plain] = (await inTurns([plainStack.slice(options)], options.durationSeconds)) as [Measured];
    }
    if (profileDir) await profileWritten();
    parts = await measureParts({
      ...options,
      redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      natsUrl: system.natsUrl,
      databaseUrl: system.services.auth!.databaseUrl,
      userId: plainStack.userId,
      poolSize: 10,
    });
  } finally {
    await system.stop();
  }
  results.push(plain.result);
  const costRows = [{ label: 'GET /api/v1/users/me', costs: plain.costs }];
  if (traced) {
    results.push(traced.result);
    costRows.push({ label: 'the same, tracing on', costs: traced.costs });
  }

  printTable(
    `users-me: autocannon -c ${options.connections} -d ${options.durationSeconds}, Node ${process.env.BENCH_NODE ? '(BENCH_NODE)' : process.version}`,
    results,
    results[0]!,
  );
  const bound = composedBound([express, ...parts]);
  printBound(
    [{ ...express, label: 'bare Express 5 hello (autocannon)' }, ...parts],
    bound,
    results.slice(2),
    express,
  );
  printCosts(costRows);
  if (traced) {
    const change = (traced.result.requestsPerSecond / plain.result.requestsPerSecond - 1) * 100;
    console.log(
      `\ntracing on: ${traced.result.requestsPerSecond} vs ${plain.result.requestsPerSecond} req/s (${change.toFixed(1)}%), ${(spans / tracedAnswers).toFixed(2)} spans per traced request; the receiver (same cores) used ${(sinkCpuMs / tracedAnswers).toFixed(3)} ms CPU per traced request`,
    );
  }
  if (profileDir) {
    console.log(`\nwhere the time goes (profiles in ${profileDir}):`);
    const shown = new Set(['gateway', 'auth']);
    printProfiles(
      summarizeProfiles(profileDir).filter((summary) => shown.has(summary.process)),
      plain.result.completed,
    );
    if (traced && tracedProfileDir) {
      console.log('\nthe same with tracing on:');
      printProfiles(
        summarizeProfiles(tracedProfileDir).filter((summary) => shown.has(summary.process)),
        traced.result.completed,
      );
    }
  }
  return results;
}
