import { randomUUID } from 'node:crypto';
import type { RunningStack } from '@zerostate/testkit';
import autocannon from 'autocannon';
import { printCosts, withProcessCosts } from '../costs.js';
import { type LoadResult, load, printTable } from '../load.js';
import {
  printProfiles,
  profileDirFromEnv,
  profileWritten,
  profilingEnv,
  summarizeProfiles,
  toggleProfiles,
} from '../profile.js';
import { callJson, grantAdmin, postJson, startBaseline, startSystem } from '../system.js';

interface LoadOptions {
  connections: number;
  durationSeconds: number;
}

/** One open channel driven by one connection, and what the benchmark sent and saw acknowledged. */
interface ChannelUnderLoad {
  id: string;
  payerToken: string;
  /** Highest sequence number written to the wire; the cumulative amount always equals it. */
  sent: number;
  /** Highest cumulative amount the gateway answered 200 for. */
  acknowledged: number;
}

interface Account {
  email: string;
  token: string;
  did: string;
}

const password = 'benchmark password 1';
/** The per-deposit cap (10,000 credits), so one deposit funds a payer. */
const depositMicro = 10_000_000_000;
/** 1,000 credits per channel: at 1 micro-credit per payment no run comes near exhausting it. */
const channelFundingMicro = 1_000_000_000;
/** Registrations hash a password (bcrypt cost 12); a few at a time keep them inside their timeout. */
const setupConcurrency = 4;

export async function inBatches<Item, Result>(
  items: Item[],
  work: (item: Item, index: number) => Promise<Result>,
): Promise<Result[]> {
  const results: Result[] = [];
  for (let start = 0; start < items.length; start += setupConcurrency) {
    const batch = items.slice(start, start + setupConcurrency);
    results.push(...(await Promise.all(batch.map((item, offset) => work(item, start + offset)))));
  }
  return results;
}

export async function register(baseUrl: string, label: string): Promise<Account> {
  const email = `${label}.${randomUUID()}@example.com`;
  const session = await postJson(`${baseUrl}/api/v1/auth/register`, { email, password });
  const user = session.user as { did: string };
  return { email, token: String(session.access_token), did: user.did };
}

export async function expectStatus(
  call: Promise<{ status: number; body: Record<string, unknown> }>,
  expected: number,
  what: string,
): Promise<Record<string, unknown>> {
  const { status, body } = await call;
  if (status !== expected) throw new Error(`${what} answered ${status}: ${JSON.stringify(body)}`);
  return body;
}

/** A payer per connection (deposit, then one channel), paying one of a few payees. */
async function openChannels(baseUrl: string, connections: number): Promise<ChannelUnderLoad[]> {
  const payeeCount = Math.max(1, Math.ceil(connections / 10));
  const payees = await inBatches(Array.from({ length: payeeCount }), () => register(baseUrl, 'payee'));
  return inBatches(Array.from({ length: connections }), async (_, index) => {
    const payer = await register(baseUrl, 'payer');
    await expectStatus(
      callJson('POST', `${baseUrl}/api/v1/payments/deposit`, {
        token: payer.token,
        body: { amount: depositMicro },
      }),
      201,
      'deposit',
    );
    const channel = await expectStatus(
      callJson('POST', `${baseUrl}/api/v1/payments/channels`, {
        token: payer.token,
        body: { payee_did: payees[index % payeeCount]!.did, amount: channelFundingMicro },
      }),
      201,
      'open channel',
    );
    return { id: String(channel.id), payerToken: payer.token, sent: 0, acknowledged: 0 };
  });
}

/**
 * Each autocannon connection owns one channel and pays on it sequentially (pipelining 1): every
 * request raises the cumulative amount by one micro-credit with the next sequence number, so a
 * sequence number is never stale. Latency percentiles cover the 200 answers only.
 */
async function payOnChannels(
  label: string,
  baseUrl: string,
  channels: ChannelUnderLoad[],
  durationSeconds: number,
  /** Sends a fresh Idempotency-Key with every payment, as a careful client does. */
  withIdempotencyKey = false,
): Promise<{ result: LoadResult; failures: Map<string, number> }> {
  const failures = new Map<string, number>();
  let paid = 0;
  let nextChannel = 0;
  const outcome = await autocannon({
    url: baseUrl,
    connections: channels.length,
    duration: durationSeconds,
    excludeErrorStats: true,
    setupClient: (client) => {
      const channel = channels[nextChannel++ % channels.length]!;
      client.setRequests([
        {
          method: 'POST',
          path: `/api/v1/payments/channels/${channel.id}/pay`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${channel.payerToken}` },
          setupRequest: (request) => {
            channel.sent += 1;
            return {
              ...request,
              ...(withIdempotencyKey
                ? { headers: { ...request.headers, 'idempotency-key': `${channel.id}:${channel.sent}` } }
                : {}),
              body: JSON.stringify({ amount: channel.sent, sequence_number: channel.sent }),
            };
          },
          onResponse: (status, body) => {
            if (status === 200) {
              paid += 1;
              channel.acknowledged = Math.max(channel.acknowledged, Number(JSON.parse(body).paid));
              return;
            }
            const key = `${status} ${errorCodeOf(body)}`;
            failures.set(key, (failures.get(key) ?? 0) + 1);
          },
        },
      ]);
    },
  });
  if (outcome.errors > 0) failures.set('connection errors', outcome.errors);
  if (outcome.timeouts > 0) failures.set('timeouts', outcome.timeouts);
  const result: LoadResult = {
    label,
    requestsPerSecond: Math.round(paid / outcome.duration),
    p50Ms: outcome.latency.p50,
    p99Ms: outcome.latency.p99,
    non2xx: outcome.non2xx,
    errors: outcome.errors,
    completed: outcome.requests.total,
  };
  return { result, failures };
}

export function errorCodeOf(body: string): string {
  try {
    return String((JSON.parse(body) as { error?: { code?: string } }).error?.code ?? 'no error code');
  } catch {
    return 'unparsable body';
  }
}

/** Every channel must hold exactly one of the amounts the benchmark sent, at least the last one acknowledged. */
async function checkChannels(baseUrl: string, channels: ChannelUnderLoad[]): Promise<string[]> {
  const problems: string[] = [];
  for (const channel of channels) {
    const stored = await expectStatus(
      callJson('GET', `${baseUrl}/api/v1/payments/channels/${channel.id}`, { token: channel.payerToken }),
      200,
      'get channel',
    );
    const paid = Number(stored.paid);
    const consistent =
      stored.status === 'open' &&
      paid >= channel.acknowledged &&
      paid <= channel.sent &&
      Number(stored.sequence_number) === paid &&
      Number(stored.deposit) === channelFundingMicro;
    if (!consistent)
      problems.push(
        `channel ${channel.id}: stored ${JSON.stringify(stored)}, acknowledged ${channel.acknowledged}, sent ${channel.sent}`,
      );
  }
  return problems;
}

interface ReconciliationReport {
  ok: boolean;
  violations: unknown[];
  totals: { deposited: string; withdrawn: string; available: string; held: string; in_channels: string };
}

/** Runs the ledger reconciliation as an admin (made by grant-admin, as an operator would). */
export async function reconcile(baseUrl: string, authDatabaseUrl: string): Promise<ReconciliationReport> {
  const admin = await register(baseUrl, 'admin');
  await grantAdmin(authDatabaseUrl, admin.email);
  const login = await postJson(`${baseUrl}/api/v1/auth/login`, { email: admin.email, password });
  return (await expectStatus(
    callJson('GET', `${baseUrl}/api/v1/admin/payments/reconciliation`, { token: String(login.access_token) }),
    200,
    'reconciliation',
  )) as unknown as ReconciliationReport;
}

/** The ratio to `/users/me`, the non-200 answers and the ledger checks; throws when the ledger broke. */
function printVerdict(
  results: LoadResult[],
  failures: Map<string, number>,
  problems: string[],
  report: ReconciliationReport,
): void {
  const [, usersMe, ...payments] = results as [LoadResult, LoadResult, ...LoadResult[]];
  for (const payment of payments) {
    console.log(
      `\n${payment.label} vs GET /users/me through the same gateway: ${(payment.requestsPerSecond / usersMe.requestsPerSecond).toFixed(2)}x req/s, ${(payment.p99Ms / Math.max(usersMe.p99Ms, 1)).toFixed(2)}x p99`,
    );
  }
  if (failures.size === 0) console.log('non-200 answers during the payment run: none');
  else console.log('non-200 answers during the payment run:');
  for (const [kind, count] of failures) console.log(`- ${kind}: ${count}`);
  console.log(
    `channels read back and totals checked: ${problems.length === 0 ? 'consistent' : `${problems.length} problem(s)`}`,
  );
  for (const problem of problems) console.log(`- ${problem}`);
  console.log(
    `reconciliation: ok=${report.ok}, violations=${report.violations.length}, totals ${JSON.stringify(report.totals)}`,
  );
  for (const violation of report.violations) console.log(`- ${JSON.stringify(violation)}`);
  if (!report.ok || problems.length > 0)
    throw new Error('channel-payments left the ledger or a channel inconsistent; see above');
}

/** `[process, /metrics URL]` of the gateway and the named services. */
export function metricsUrls(
  system: RunningStack,
  services: readonly string[] = ['auth', 'payment-channel'],
): [string, string][] {
  return [
    ['gateway', `${system.baseUrl}/metrics`],
    ...services.map((name): [string, string] => [name, `${system.services[name]!.adminUrl}/metrics`]),
  ];
}

export async function bareExpress(options: LoadOptions): Promise<LoadResult> {
  const baseline = await startBaseline('express');
  try {
    return await load('bare Express 5 hello', { url: baseline.url, ...options });
  } finally {
    await baseline.stop();
  }
}

/**
 * Both gateway paths on one running system, each after a warm-up: `GET /users/me` with a payer's
 * token, then every connection paying on its own channel.
 */
async function measureGateway(
  system: RunningStack,
  channels: ChannelUnderLoad[],
  options: LoadOptions,
  profiling: boolean,
) {
  const headers = { authorization: `Bearer ${channels[0]!.payerToken}` };
  const me = `${system.baseUrl}/api/v1/users/me`;
  const usersMeLabel = 'gateway GET /api/v1/users/me (JWT + rate limit + NATS + Postgres)';
  await load('warm-up', { url: me, connections: 10, durationSeconds: 2, headers });
  const usersMe = await withProcessCosts(metricsUrls(system), () =>
    load(usersMeLabel, { url: me, headers, ...options }),
  );
  await payOnChannels('warm-up', system.baseUrl, channels, 2);
  const payLabel =
    'gateway POST /api/v1/payments/channels/:id/pay (JWT + rate limit + NATS + one SQL statement)';
  const keyedLabel = 'the same pay with an Idempotency-Key (+ a transaction storing the answer)';
  const failures = new Map<string, number>();
  const payRun = (label: string, withKey: boolean) =>
    withProcessCosts(metricsUrls(system), async () => {
      const run = await payOnChannels(label, system.baseUrl, channels, options.durationSeconds, withKey);
      for (const [kind, count] of run.failures) failures.set(kind, (failures.get(kind) ?? 0) + count);
      return run.result;
    });
  // BENCH_PROFILE: the unkeyed payment run alone is profiled (gateway and payment-channel).
  const profiled = profiling ? [system.gateway.child, system.services['payment-channel']!.process.child] : [];
  toggleProfiles(profiled);
  const pay = await payRun(payLabel, false);
  toggleProfiles(profiled);
  const keyed = await payRun(keyedLabel, true);
  return {
    results: [usersMe.result, pay.result, keyed.result],
    costs: [
      { label: 'GET /api/v1/users/me', costs: usersMe.costs },
      { label: 'POST /api/v1/payments/channels/:id/pay', costs: pay.costs },
      { label: 'the same with an Idempotency-Key', costs: keyed.costs },
    ],
    failures,
  };
}

/** Reads every channel back and reconciles the ledger; lists whatever does not add up. */
async function checkLedger(system: RunningStack, channels: ChannelUnderLoad[]) {
  const problems = await checkChannels(system.baseUrl, channels);
  const report = await reconcile(system.baseUrl, system.services.auth!.databaseUrl);
  const depositedMicro = String(channels.length * depositMicro);
  if (report.totals.deposited !== depositedMicro)
    problems.push(
      `reconciliation totals deposited ${report.totals.deposited}, the run deposited ${depositedMicro}`,
    );
  return { problems, report };
}

/**
 * Off-chain channel payments through the gateway (JWT + rate limit + NATS + the payment-channel
 * service's one-statement payment, then the same with an Idempotency-Key) against, in the same run, bare Express and `GET /users/me`
 * through the same gateway. Afterwards every channel is read back and the ledger reconciled; a run
 * that leaves an inconsistent channel or a reconciliation violation fails (non-zero exit).
 */
export async function channelPayments(options: LoadOptions) {
  const baseline = await bareExpress(options);
  // The limiters still run on every request; only their capacity is raised so the run measures the
  // path (registration shares the per-IP login limiter, and every payer registers from loopback).
  const profileDir = profileDirFromEnv();
  const system = await startSystem({
    RATE_LIMIT_CAPACITY: '100000000',
    RATE_LIMIT_REFILL_PER_MINUTE: '100000000',
    LOGIN_LIMIT_PER_IP_PER_MINUTE: '100000',
    ...profilingEnv(profileDir),
  });
  let measured: Awaited<ReturnType<typeof measureGateway>>;
  let checked: Awaited<ReturnType<typeof checkLedger>>;
  try {
    const channels = await openChannels(system.baseUrl, options.connections);
    measured = await measureGateway(system, channels, options, profileDir !== undefined);
    checked = await checkLedger(system, channels);
  } finally {
    await system.stop();
  }
  const results = [baseline, ...measured.results];
  printTable(
    `channel-payments: autocannon -c ${options.connections} -d ${options.durationSeconds}, one channel per connection, Node ${process.env.BENCH_NODE ? '(BENCH_NODE)' : process.version}`,
    results,
    baseline,
  );
  printCosts(measured.costs);
  if (profileDir) {
    await profileWritten();
    console.log(`\nwhere the time goes, unkeyed payments (profiles in ${profileDir}):`);
    const shown = new Set(['gateway', 'payment-channel']);
    printProfiles(
      summarizeProfiles(profileDir).filter((summary) => shown.has(summary.process)),
      measured.results[1]!.completed,
    );
  }
  printVerdict(results, measured.failures, checked.problems, checked.report);
  return results;
}
