import { defineConfig } from 'prisma/config';

// Generates the client only; migrations are SQL applied by `pnpm migrate` (packages/database).
export default defineConfig({
  schema: '../../prisma/task/schema.prisma',
  migrations: { path: '../../prisma/task/migrations' },
  datasource: { url: process.env.TASK_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zerostate_task' },
});
