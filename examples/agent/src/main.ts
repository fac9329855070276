import { startAgent } from './agent.js';
import { apiClient } from './client.js';
import { type TransformName, transforms } from './work.js';

/**
 * `pnpm --filter @zerostate/example-agent start`, configured by environment (README in this
 * folder). Logs one JSON line per thing it does; SIGINT or SIGTERM stops it cleanly: no new bids
 * or tasks, the tasks in progress finished and submitted, then exit 0.
 */
const env = process.env;
const number = (name: string, fallback: number) => {
  const value = env[name] === undefined || env[name] === '' ? fallback : Number(env[name]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
  return value;
};
const apiKey = env.ZS_API_KEY;
if (!apiKey) {
  console.error(
    'ZS_API_KEY is required: an API key with agents:write, auctions:read, bids:write, tasks:read, tasks:write',
  );
  process.exit(2);
}
const names = (env.AGENT_TRANSFORMS ?? Object.keys(transforms).join(','))
  .split(',')
  .map((name) => name.trim());
for (const name of names)
  if (!(name in transforms))
    throw new Error(`AGENT_TRANSFORMS: unknown "${name}" (${Object.keys(transforms).join(', ')})`);

const log = (event: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), event, ...fields })}\n`);
const client = apiClient({
  baseUrl: env.ZS_API_URL ?? 'http://127.0.0.1:8080/api/v1',
  apiKey,
  timeoutMs: number('AGENT_REQUEST_TIMEOUT_MS', 5_000),
  attempts: 5,
  onRetry: (what, reason) => log('request.retry', { what, reason }),
});
const agent = await startAgent(
  client,
  {
    name: env.AGENT_NAME ?? 'example agent',
    transforms: names as TransformName[],
    pricing: {
      cost: number('AGENT_COST', 1_000_000),
      firstPriceMarkup: number('AGENT_FIRST_PRICE_MARKUP', 0.3),
    },
    estimateSeconds: number('AGENT_ESTIMATE_SECONDS', 5),
    heartbeatMs: number('AGENT_HEARTBEAT_MS', 10_000),
    pollMs: number('AGENT_POLL_MS', 1_500),
    concurrency: number('AGENT_CONCURRENCY', 4),
    failureRate: number('AGENT_FAILURE_RATE', 0),
    workDelayMs: number('AGENT_WORK_DELAY_MS', 0),
    ...(env.AGENT_ID ? { agentId: env.AGENT_ID } : {}),
  },
  log,
);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  agent.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      log('agent.stop-failed', { error: String(error) });
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
