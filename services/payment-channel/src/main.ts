import { runServiceMain } from '@zerostate/observability';
import { loadPaymentConfig } from './config.js';

/** The process entry point; `runServiceMain` owns env, tracing, signals and exit. */
await runServiceMain({
  service: 'payment-channel',
  loadConfig: loadPaymentConfig,
  instrument: { http: false, express: false, ioredis: false, pg: true },
  build: async (config, logger) => {
    // Imported only now, so the loader hook registered by tracing can patch pg.
    const { createPaymentService } = await import('./service.js');
    return createPaymentService({ config, logger });
  },
});
