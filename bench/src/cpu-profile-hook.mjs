// Loaded with `NODE_OPTIONS=--import=…/cpu-profile-hook.mjs` (Node 20 refuses `--cpu-prof` in
// NODE_OPTIONS). The first SIGUSR2 starts sampling this process's CPU like `--cpu-prof` (1 ms
// interval); the second stops it and writes `<app>.<pid>.<n>.cpuprofile` into BENCH_PROFILE_DIR,
// and so on for each slice of a measured run. So the profiles cover exactly the measured run, not
// start-up or warm-up; bench/src/profile.ts adds up a process's slices.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

const dir = process.env.BENCH_PROFILE_DIR;
if (dir && isMainThread) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  let running = false;
  let written = 0;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.start');
      return;
    }
    running = false;
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      const app = (process.argv[1] ?? '').match(/(gateway|services\/[^/]+)\/(?:dist|src)\//)?.[1] ?? 'node';
      written += 1;
      const name = `${app.replace(/^services\//, '')}.${process.pid}.${written}.cpuprofile`;
      writeFileSync(join(dir, name), JSON.stringify(result.profile));
    });
  });
}
