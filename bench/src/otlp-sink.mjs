// The testkit's OTLP receiver in its own process, so decoding spans does not take the load
// generator's event loop: `node otlp-sink.mjs` sends {"endpoint":…} over IPC, and answers
// "count" messages with {"spans":N}.
import { startOtlpReceiver } from '@zerostate/testkit';

const receiver = await startOtlpReceiver();
process.on('message', (message) => {
  if (message === 'count') process.send?.({ spans: receiver.spans().length });
});
process.send?.({ endpoint: receiver.endpoint });
