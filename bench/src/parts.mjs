// The parts of the read path, each alone, for the composed bound (bench/src/bound.ts):
//   node parts.mjs redis <connections> <seconds> <redis-url>
//   node parts.mjs nats-responder <nats-url> <subject>          (answers until killed)
//   node parts.mjs nats <connections> <seconds> <nats-url> <subject>
//   node parts.mjs postgres <connections> <seconds> <database-url> <id> <pool-size>
// Each driver keeps <connections> operations in flight for <seconds> (a closed loop, like
// autocannon's connections) and sends one JSON line: {"ops":…,"perSecond":…,"p50Ms":…,"p99Ms":…}.
// Payloads match the real path: the Redis key and the NATS and Postgres answers are of the same
// size as what GET /users/me moves.
import { performance } from 'node:perf_hooks';

const [part, ...args] = process.argv.slice(2);

async function closedLoop(connections, seconds, operation) {
  const latencies = [];
  const deadline = performance.now() + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const started = performance.now();
      await operation();
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? 0;
  return {
    ops: latencies.length,
    perSecond: Math.round(latencies.length / elapsed),
    p50Ms: Math.round(at(0.5) * 100) / 100,
    p99Ms: Math.round(at(0.99) * 100) / 100,
  };
}

const report = (result) => {
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
};

const userView = JSON.stringify({
  ok: true,
  data: {
    id: '0193a5f0-0000-7000-8000-000000000000',
    email: 'bench.1764700000000@example.com',
    name: null,
    did: 'did:zerostate:user:0193a5f0-0000-7000-8000-000000000000',
    roles: ['user'],
    is_active: true,
    created_at: '2026-12-03T12:00:00.000Z',
    last_login_at: null,
  },
});

if (part === 'redis') {
  const [connections, seconds, url] = args;
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: false });
  const key = `bench:bound:${process.pid}`;
  await redis.set(key, '99999999:1764700000000', 'EX', 120);
  await closedLoop(Number(connections), 1, () => redis.get(key));
  report(await closedLoop(Number(connections), Number(seconds), () => redis.get(key)));
} else if (part === 'nats-responder') {
  const [url, subject] = args;
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: url, noAsyncTraces: true });
  const answer = new TextEncoder().encode(userView);
  nc.subscribe(subject, { callback: (_error, message) => message.respond(answer) });
  await nc.flush();
  process.stdout.write('ready\n');
} else if (part === 'nats') {
  const [connections, seconds, url, subject] = args;
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: url, noAsyncTraces: true });
  const body = new TextEncoder().encode('{}');
  const call = () => nc.request(subject, body, { timeout: 5_000 });
  await closedLoop(Number(connections), 1, call);
  report(await closedLoop(Number(connections), Number(seconds), call));
} else if (part === 'postgres') {
  const [connections, seconds, url, id, poolSize] = args;
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: Number(poolSize) });
  const query = {
    name: 'bench_bound_user_by_id',
    text: 'SELECT id, email, name, did, roles, is_active, created_at, last_login_at FROM users WHERE id = $1',
    values: [id],
  };
  const select = () => pool.query(query);
  await closedLoop(Number(connections), 1, select);
  report(await closedLoop(Number(connections), Number(seconds), select));
} else {
  console.error(`unknown part ${part}`);
  process.exit(2);
}
