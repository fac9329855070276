import { defineConfig } from 'prisma/config';

// The schema engine is not needed to generate the client; migrations are applied by
// `pnpm migrate` (see packages/database). AUTH_DATABASE_URL is only read by the Prisma CLI.
export default defineConfig({
  schema: '../../prisma/auth/schema.prisma',
  migrations: { path: '../../prisma/auth/migrations' },
  datasource: { url: process.env.AUTH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zerostate_auth' },
});
