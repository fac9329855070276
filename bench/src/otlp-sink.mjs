// The testkit's OTLP receiver in its own process, so decoding spans does not take the load
// generator's event loop: `node otlp-sink.mjs` sends {"endpoint":…} over IPC, and answers
// "count" messages with {"spans":N,"cpuMs":M} (the CPU it has used so far: on this machine the
// receiver shares the cores with the stack, as a collector on the same node would).
import { startOtlpReceiver } from '@zerostate/testkit';

// It decodes every span and keeps none (a collector forwards them), so its heap does not grow with
// the run.
const receiver = await startOtlpReceiver({ keepSpans: false });
process.on('message', (message) => {
  if (message === 'count') {
    const { user, system } = process.cpuUsage();
    process.send?.({ spans: receiver.count(), cpuMs: (user + system) / 1000 });
  }
});
process.send?.({ endpoint: receiver.endpoint });
