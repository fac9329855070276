import { runServiceMain } from '@zerostate/observability';
import { loadAuthConfig } from './config.js';

/** The process entry point; `runServiceMain` owns env, tracing, signals and exit. */
await runServiceMain({
  service: 'auth',
  loadConfig: loadAuthConfig,
  instrument: { http: false, express: false, ioredis: false, pg: true },
  build: async (config, logger) => {
    // Imported only now, so the loader hook registered by tracing can patch pg.
    const { createAuthService } = await import('./service.js');
    // The setting was removed (anyone could claim an unverified email by registering it first); a
    // deployment that still sets it expects an admin to appear, so say why none will.
    if (process.env.BOOTSTRAP_ADMIN_EMAIL) {
      logger.warn('BOOTSTRAP_ADMIN_EMAIL is ignored; make an admin with the grant-admin command instead');
    }
    return createAuthService({ config, logger });
  },
});
