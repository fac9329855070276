import { defineConfig } from 'prisma/config';

// The schema engine is not needed to generate the client; migrations are applied by
// `pnpm migrate` (see packages/database). PAYMENT_DATABASE_URL is only read by the Prisma CLI.
export default defineConfig({
  schema: '../../prisma/payment/schema.prisma',
  migrations: { path: '../../prisma/payment/migrations' },
  datasource: {
    url: process.env.PAYMENT_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/zerostate_payment',
  },
});
