import { runMigrate } from '@zerostate/service-kit/migrate';

/** `pnpm --filter @zerostate/auction-service migrate`: reads AUCTION_DATABASE_URL. */
await runMigrate(new URL('../package.json', import.meta.url), import.meta.url);
