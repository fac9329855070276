import { runService } from '@zerostate/service-kit/main';

/** The process entry point; the kit's `runService` owns env, tracing, signals and exit. */
await runService(
  new URL('../package.json', import.meta.url),
  async () => (await import('./service.js')).default,
);
