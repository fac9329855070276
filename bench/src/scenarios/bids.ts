import type { RunningStack } from '@zerostate/testkit';
import autocannon from 'autocannon';
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
import { callJson, startSystem } from '../system.js';
import {
  bareExpress,
  errorCodeOf,
  expectStatus,
  inBatches,
  metricsUrls,
  register,
} from './channel-payments.js';

interface LoadOptions {
  connections: number;
  durationSeconds: number;
}

/** One connection's bidder: its own agent, bidding in one auction; every request re-bids. */
interface Bidder {
  agentId: string;
  ownerToken: string;
}

const credit = 1_000_000;
const auctionTerms = {
  capabilities: ['text.summarize'],
  max_price: 100 * credit,
  type: 'second_price',
  duration_seconds: 3_600,
  timeout_seconds: 60,
};

async function openAuction(baseUrl: string, token: string): Promise<string> {
  const auction = await expectStatus(
    callJson('POST', `${baseUrl}/api/v1/auctions`, { token, body: auctionTerms }),
    201,
    'create auction',
  );
  return String(auction.id);
}

/** Agents of a few owners (ten agents each), one per connection. */
async function registerBidders(baseUrl: string, connections: number): Promise<Bidder[]> {
  const owners = await inBatches(Array.from({ length: Math.ceil(connections / 10) }), () =>
    register(baseUrl, 'agent-owner'),
  );
  return inBatches(Array.from({ length: connections }), async (_, index) => {
    const owner = owners[Math.floor(index / 10)]!;
    const agent = await expectStatus(
      callJson('POST', `${baseUrl}/api/v1/agents`, {
        token: owner.token,
        body: {
          name: `bench agent ${index}`,
          capabilities: ['text.summarize', 'text'],
          price_per_task: credit,
        },
      }),
      201,
      'register agent',
    );
    return { agentId: String(agent.id), ownerToken: owner.token };
  });
}

/**
 * Connection i bids for bidder i into `auctionOf(i)`, sequentially; each bid replaces the agent's
 * live bid (a new price every time), as an agent revising its offer does. Percentiles cover all
 * answers; req/s counts the 201s only.
 */
async function bidLoad(
  label: string,
  baseUrl: string,
  bidders: Bidder[],
  auctionOf: (index: number) => string,
  durationSeconds: number,
): Promise<{ result: LoadResult; failures: Map<string, number> }> {
  const failures = new Map<string, number>();
  let placed = 0;
  let next = 0;
  let sequence = 0;
  const outcome = await autocannon({
    url: baseUrl,
    connections: bidders.length,
    duration: durationSeconds,
    setupClient: (client) => {
      const index = next++ % bidders.length;
      const bidder = bidders[index]!;
      client.setRequests([
        {
          method: 'POST',
          path: `/api/v1/auctions/${auctionOf(index)}/bids`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${bidder.ownerToken}` },
          setupRequest: (request) => {
            sequence += 1;
            return {
              ...request,
              body: JSON.stringify({
                agent_id: bidder.agentId,
                price: 40 * credit + (sequence % 1_000),
                estimated_time_seconds: 20,
              }),
            };
          },
          onResponse: (status, body) => {
            if (status === 201) {
              placed += 1;
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
  return {
    result: {
      label,
      requestsPerSecond: Math.round(placed / outcome.duration),
      p50Ms: outcome.latency.p50,
      p99Ms: outcome.latency.p99,
      non2xx: outcome.non2xx,
      errors: outcome.errors,
      completed: outcome.requests.total,
    },
    failures,
  };
}

/** Every auction must hold exactly one live bid per agent that bid into it, however many re-bids. */
async function checkAuctions(
  baseUrl: string,
  requesterToken: string,
  expected: Map<string, number>,
): Promise<string[]> {
  const problems: string[] = [];
  for (const [id, agents] of expected) {
    const view = await expectStatus(
      callJson('GET', `${baseUrl}/api/v1/auctions/${id}`, { token: requesterToken }),
      200,
      'get auction',
    );
    if (view.status !== 'open' || view.bid_count !== agents)
      problems.push(
        `auction ${id}: ${view.status} with ${String(view.bid_count)} live bids, expected ${agents}`,
      );
  }
  return problems;
}

async function measure(system: RunningStack, options: LoadOptions, profiling: boolean) {
  const baseUrl = system.baseUrl;
  const requester = await register(baseUrl, 'requester');
  const bidders = await registerBidders(baseUrl, options.connections);
  const hot = await openAuction(baseUrl, requester.token);
  const spread = await inBatches(bidders, () => openAuction(baseUrl, requester.token));
  const services = ['auth', 'auction', 'reputation'];

  const me = `${baseUrl}/api/v1/users/me`;
  const headers = { authorization: `Bearer ${requester.token}` };
  const targets = metricsUrls(system, services);
  await load('warm-up', { url: me, connections: 10, durationSeconds: 2, headers });
  await bidLoad('warm-up', baseUrl, bidders, (index) => spread[index]!, 2);
  const failures = new Map<string, number>();
  // BENCH_PROFILE: the many-auctions slices alone are profiled (gateway, auction, reputation).
  const profiled = profiling
    ? [system.gateway.child, ...['auction', 'reputation'].map((name) => system.services[name]!.process.child)]
    : [];
  const bidRun = (
    label: string,
    auctionOf: (index: number) => string,
    profile: typeof profiled,
  ): TurnLoad => ({
    warmUp: (seconds) => bidLoad('warm-up', baseUrl, bidders, auctionOf, seconds),
    measure: (seconds) =>
      withProcessCosts(targets, async () => {
        toggleProfiles(profile);
        const outcome = await bidLoad(label, baseUrl, bidders, auctionOf, seconds);
        toggleProfiles(profile);
        for (const [kind, count] of outcome.failures) failures.set(kind, (failures.get(kind) ?? 0) + count);
        return outcome.result;
      }),
  });
  const usersMeLoad = (seconds: number) => ({
    url: me,
    headers,
    connections: options.connections,
    durationSeconds: seconds,
  });
  // In turns (`inTurns`): the machine's drift during the run weighs on the baseline and the bids alike.
  const [usersMe, many, one] = (await inTurns(
    [
      {
        warmUp: (seconds) => load('warm-up', usersMeLoad(seconds)),
        measure: (seconds) =>
          withProcessCosts(targets, () =>
            load('gateway GET /api/v1/users/me (JWT + rate limit + NATS + Postgres)', usersMeLoad(seconds)),
          ),
      },
      bidRun(
        `POST /api/v1/auctions/:id/bids, ${options.connections} auctions (one bidder each)`,
        (index) => spread[index]!,
        profiled,
      ),
      bidRun(`the same into one hot auction (${options.connections} bidders)`, () => hot, []),
    ],
    options.durationSeconds,
  )) as [Measured, Measured, Measured];

  const expected = new Map<string, number>([
    [hot, bidders.length],
    ...spread.map((id): [string, number] => [id, 1]),
  ]);
  const problems = await checkAuctions(baseUrl, requester.token, expected);
  return {
    results: [usersMe.result, many.result, one.result],
    costs: [
      { label: 'GET /api/v1/users/me', costs: usersMe.costs },
      { label: 'bids, many auctions', costs: many.costs },
      { label: 'bids, one hot auction', costs: one.costs },
    ],
    failures,
    problems,
  };
}

/**
 * Sealed bids through the gateway (JWT + rate limit + NATS + the auction service's transaction:
 * the auction's row lock, the agent and its score, the rules, replacing the live bid and the
 * outbox event) into many auctions and into one hot auction, beside bare Express and
 * `GET /users/me` through the same gateway in the same run. Afterwards every auction must hold
 * exactly one live bid per agent; a run that leaves more fails (non-zero exit).
 */
export async function bids(options: LoadOptions) {
  const baseline = await bareExpress(options);
  const profileDir = profileDirFromEnv();
  const system = await startSystem({
    RATE_LIMIT_CAPACITY: '100000000',
    RATE_LIMIT_REFILL_PER_MINUTE: '100000000',
    LOGIN_LIMIT_PER_IP_PER_MINUTE: '100000',
    ...profilingEnv(profileDir),
  });
  let measured: Awaited<ReturnType<typeof measure>>;
  try {
    measured = await measure(system, options, profileDir !== undefined);
  } finally {
    await system.stop();
  }
  const results = [baseline, ...measured.results];
  printTable(
    `bids: autocannon -c ${options.connections} -d ${options.durationSeconds}, every request a re-bid, Node ${process.env.BENCH_NODE ? '(BENCH_NODE)' : process.version}`,
    results,
    baseline,
  );
  printCosts(measured.costs);
  if (profileDir) {
    await profileWritten();
    console.log(`\nwhere the time goes, bids into many auctions (profiles in ${profileDir}):`);
    const shown = new Set(['gateway', 'auction', 'reputation']);
    printProfiles(
      summarizeProfiles(profileDir).filter((summary) => shown.has(summary.process)),
      measured.results[1]!.completed,
    );
  }
  const [usersMe, ...bidRuns] = measured.results as [LoadResult, ...LoadResult[]];
  for (const run of bidRuns) {
    console.log(
      `\n${run.label} vs GET /users/me through the same gateway: ${(run.requestsPerSecond / usersMe.requestsPerSecond).toFixed(2)}x req/s, ${(run.p99Ms / Math.max(usersMe.p99Ms, 1)).toFixed(2)}x p99`,
    );
  }
  if (measured.failures.size === 0) console.log('non-201 answers during the bid runs: none');
  else console.log('non-201 answers during the bid runs:');
  for (const [kind, count] of measured.failures) console.log(`- ${kind}: ${count}`);
  console.log(
    `auctions read back: ${measured.problems.length === 0 ? 'one live bid per agent everywhere' : `${measured.problems.length} problem(s)`}`,
  );
  for (const problem of measured.problems) console.log(`- ${problem}`);
  if (measured.problems.length > 0)
    throw new Error('bids left an auction with more than one live bid per agent');
  return results;
}
