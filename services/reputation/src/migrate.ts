import { runMigrate } from '@zerostate/service-kit/migrate';

/** `pnpm --filter @zerostate/reputation-service migrate`: reads REPUTATION_DATABASE_URL. */
await runMigrate(new URL('../package.json', import.meta.url), import.meta.url);
