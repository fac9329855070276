// `pnpm bench [scenario…] [--duration=N] [--connections=N]` runs the named scenarios (all when
// none is named) and prints markdown tables ready for docs/BENCHMARKS.md.
import { bids } from './scenarios/bids.js';
import { channelPayments } from './scenarios/channel-payments.js';
import { loginEventLoop } from './scenarios/login-event-loop.js';
import { principalTokens } from './scenarios/principal-tokens.js';
import { taskFlow } from './scenarios/task-flow.js';
import { usersMe } from './scenarios/users-me.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const value = args.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1];
  return value ? Number(value) : fallback;
};
const load = { connections: option('connections', 50), durationSeconds: option('duration', 10) };
const scenarios: Record<string, () => Promise<unknown>> = {
  'users-me': () => usersMe(load),
  'login-event-loop': () => loginEventLoop(),
  'channel-payments': () => channelPayments(load),
  'principal-tokens': () => principalTokens(),
  bids: () => bids(load),
  'task-flow': () => taskFlow(load),
};
const chosen = args.filter((arg) => !arg.startsWith('--'));
for (const name of chosen.length > 0 ? chosen : Object.keys(scenarios)) {
  const scenario = scenarios[name];
  if (!scenario) {
    console.error(`unknown scenario ${name}; known: ${Object.keys(scenarios).join(', ')}`);
    process.exit(2);
  }
  await scenario();
}
process.exit(0);
