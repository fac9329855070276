import { runMigrate } from '@zerostate/service-kit/migrate';

/** `pnpm --filter @zerostate/task-service migrate`: reads TASK_DATABASE_URL. */
await runMigrate(new URL('../package.json', import.meta.url), import.meta.url);
