import { defineConfig } from 'prisma/config';

// Generates the client only; migrations are SQL applied by `pnpm migrate` (packages/database).
export default defineConfig({
  schema: '../../prisma/reputation/schema.prisma',
  migrations: { path: '../../prisma/reputation/migrations' },
  datasource: {
    url: process.env.REPUTATION_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zerostate_reputation',
  },
});
