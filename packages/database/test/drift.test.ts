import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkSchemaDrift, type PrismaDataModel, prismaModelsFromSchema } from '../src/index.js';
import { queryOnce, type ScratchDatabase, scratchDatabase } from './support.js';

const schema = `
enum Status {
  active
  closed @map("CLOSED")
}

model Account {
  id        String    @id @default(uuid(7)) @db.Uuid
  email     String    @unique @db.VarChar(254)
  nickname  String?
  status    Status    @default(closed)
  tags      String[]  @default(["a", "b"])
  balance   BigInt    @default(0)
  settings  Json      @default("{\\"theme\\": \\"dark\\", \\"size\\": 1}")
  createdAt DateTime  @default(now()) @map("created_at") @db.Timestamptz(3)
  seenAt    DateTime? @map("seen_at")
  updatedAt DateTime  @updatedAt @map("updated_at")
  posts     Post[]

  @@unique([nickname, status])
  @@map("accounts")
}

model Post {
  id        Int     @id @default(autoincrement())
  accountId String  @map("account_id") @db.Uuid
  body      Json
  score     Float   @default(1.5)
  account   Account @relation(fields: [accountId], references: [id], onDelete: Cascade)

  @@index([accountId, id(sort: Desc)])
  @@index([body], type: Gin)
}
`;

/** What Prisma Migrate creates for the schema above, plus guards Prisma cannot express. */
const matchingSql = `
CREATE TYPE "Status" AS ENUM ('active', 'CLOSED');
CREATE TABLE "accounts" (
  "id" UUID NOT NULL,
  "email" VARCHAR(254) NOT NULL,
  "nickname" TEXT,
  "status" "Status" NOT NULL DEFAULT 'CLOSED',
  "tags" TEXT[] DEFAULT ARRAY['a', 'b']::TEXT[],
  "balance" BIGINT NOT NULL DEFAULT 0,
  "settings" JSONB NOT NULL DEFAULT '{"theme": "dark", "size": 1}',
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "seen_at" TIMESTAMP(3),
  "updated_at" TIMESTAMP(3) NOT NULL,
  CONSTRAINT "accounts_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "Post" (
  "id" SERIAL NOT NULL,
  "account_id" UUID NOT NULL,
  "body" JSONB NOT NULL,
  "score" DOUBLE PRECISION NOT NULL DEFAULT 1.5,
  CONSTRAINT "Post_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "accounts_email_key" ON "accounts"("email");
CREATE UNIQUE INDEX "accounts_nickname_status_key" ON "accounts"("nickname", "status");
CREATE INDEX "Post_account_id_id_idx" ON "Post"("account_id", "id" DESC);
CREATE INDEX "Post_body_idx" ON "Post" USING GIN ("body");
ALTER TABLE "Post" ADD CONSTRAINT "Post_account_id_fkey" FOREIGN KEY ("account_id")
  REFERENCES "accounts"("id") ON DELETE CASCADE ON UPDATE CASCADE;
CREATE UNIQUE INDEX "accounts_email_lower_key" ON "accounts"(lower("email"));
CREATE INDEX "accounts_active_balance_idx" ON "accounts"("balance") WHERE "status" = 'active';
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_balance_check" CHECK ("balance" >= 0);`;

/** What a generated Prisma 7 client's runtime data model carries: names, kinds, types, dbNames. */
function prunedLikeRuntimeDataModel(full: PrismaDataModel): PrismaDataModel {
  const models = Object.fromEntries(
    Object.entries(full.models).map(([name, model]) => [
      name,
      {
        dbName: model.dbName ?? null,
        fields: model.fields.map((field) => ({
          name: field.name,
          kind: field.kind,
          type: field.type,
          ...(field.dbName ? { dbName: field.dbName } : {}),
        })),
      },
    ]),
  );
  return { models, enums: {} };
}

describe('checkSchemaDrift', () => {
  let database: ScratchDatabase;
  const models = prismaModelsFromSchema(schema);

  beforeEach(async () => {
    database = await scratchDatabase('drift');
    await queryOnce(database.url, matchingSql);
  });

  afterEach(async () => {
    await database.drop();
  });

  it('when the database matches the models, then no difference is reported', async () => {
    expect(await checkSchemaDrift({ connectionString: database.url, models })).toEqual([]);
    expect(
      await checkSchemaDrift({ connectionString: database.url, models: prunedLikeRuntimeDataModel(models) }),
    ).toEqual([]);
  });

  it('when columns, types, nullability and tables differ, then each difference is reported', async () => {
    await queryOnce(
      database.url,
      `ALTER TABLE "accounts" DROP COLUMN "balance";
       ALTER TABLE "accounts" ALTER COLUMN "email" TYPE VARCHAR(100);
       ALTER TABLE "accounts" ALTER COLUMN "nickname" SET NOT NULL;
       ALTER TABLE "accounts" ALTER COLUMN "seen_at" TYPE TIMESTAMPTZ(3);
       ALTER TABLE "Post" ALTER COLUMN "body" DROP NOT NULL;
       ALTER TABLE "Post" ADD COLUMN "extra" INTEGER;
       CREATE TABLE "stray" ("id" INTEGER);`,
    );

    expect(await checkSchemaDrift({ connectionString: database.url, models })).toEqual([
      'column Post.body (Post.body) is nullable, expected NOT NULL',
      'column Post.extra is not in model Post',
      'column accounts.balance (Account.balance) is missing',
      'column accounts.email (Account.email) has type character varying(100), expected character varying(254)',
      'column accounts.nickname (Account.nickname) is NOT NULL, expected nullable',
      'column accounts.seen_at (Account.seenAt) has type timestamp(3) with time zone, expected timestamp(3) without time zone',
      'table stray is not in any model',
    ]);
  });

  it('when only a runtime data model is given, then columns and type families are still checked, and nothing more', async () => {
    await queryOnce(
      database.url,
      // The GIN index goes too, since text has no GIN operator class; the pruned metadata knows no indexes.
      'ALTER TABLE "accounts" DROP COLUMN "nickname"; DROP INDEX "Post_body_idx"; ALTER TABLE "Post" ALTER COLUMN "body" TYPE TEXT;',
    );

    expect(
      await checkSchemaDrift({ connectionString: database.url, models: prunedLikeRuntimeDataModel(models) }),
    ).toEqual([
      'column Post.body (Post.body) has type text, which cannot hold Prisma type Json',
      'column accounts.nickname (Account.nickname) is missing',
    ]);
  });

  it('when keys, unique indexes, plain indexes and a foreign key are dropped, then each is reported', async () => {
    await queryOnce(
      database.url,
      `ALTER TABLE "Post" DROP CONSTRAINT "Post_account_id_fkey";
       ALTER TABLE "accounts" DROP CONSTRAINT "accounts_pkey";
       DROP INDEX "accounts_email_key";
       DROP INDEX "accounts_nickname_status_key";
       DROP INDEX "Post_account_id_id_idx";`,
    );

    expect(await checkSchemaDrift({ connectionString: database.url, models })).toEqual([
      'foreign key on Post (account_id) referencing accounts (id) (model Post) is missing',
      'index on Post (account_id, id) (model Post) is missing',
      'primary key on accounts (id) (model Account) is missing',
      'unique index on accounts (email) (model Account) is missing',
      'unique index on accounts (nickname, status) (model Account) is missing',
    ]);
  });

  it('when indexes and foreign keys differ from the models, then the differences and the extras are reported', async () => {
    await queryOnce(
      database.url,
      `ALTER TABLE "Post" DROP CONSTRAINT "Post_account_id_fkey";
       ALTER TABLE "Post" ADD CONSTRAINT "Post_account_id_fkey" FOREIGN KEY ("account_id")
         REFERENCES "accounts"("id") ON DELETE RESTRICT ON UPDATE NO ACTION;
       DROP INDEX "Post_body_idx";
       CREATE INDEX "Post_body_idx" ON "Post"("body");
       CREATE INDEX "accounts_balance_idx" ON "accounts"("balance");
       ALTER TABLE "Post" ADD CONSTRAINT "Post_id_fkey" FOREIGN KEY ("id") REFERENCES "Post"("id");`,
    );

    expect(await checkSchemaDrift({ connectionString: database.url, models })).toEqual([
      'foreign key Post_account_id_fkey on Post (account_id) has ON DELETE Restrict, expected Cascade',
      'foreign key Post_account_id_fkey on Post (account_id) has ON UPDATE NoAction, expected Cascade',
      'foreign key Post_id_fkey on Post (id) referencing Post (id) is not in model Post',
      'index Post_body_idx on Post (body) is not in model Post',
      'index accounts_balance_idx on accounts (balance) is not in model Account',
      'index using gin on Post (body) (model Post) is missing',
    ]);
  });

  it('when column defaults differ from the models, then each is reported', async () => {
    await queryOnce(
      database.url,
      `ALTER TABLE "accounts" ALTER COLUMN "created_at" DROP DEFAULT;
       ALTER TABLE "accounts" ALTER COLUMN "balance" SET DEFAULT 5;
       ALTER TABLE "accounts" ALTER COLUMN "nickname" SET DEFAULT 'x';
       ALTER TABLE "accounts" ALTER COLUMN "status" SET DEFAULT 'active';
       ALTER TABLE "accounts" ALTER COLUMN "tags" SET DEFAULT ARRAY['a']::TEXT[];
       ALTER TABLE "accounts" ALTER COLUMN "settings" SET DEFAULT '{}';
       ALTER TABLE "accounts" ALTER COLUMN "updated_at" SET DEFAULT CURRENT_TIMESTAMP;
       ALTER TABLE "accounts" ALTER COLUMN "id" SET DEFAULT gen_random_uuid();
       ALTER TABLE "Post" ALTER COLUMN "id" DROP DEFAULT;
       ALTER TABLE "Post" ALTER COLUMN "score" SET DEFAULT 2;`,
    );

    expect(await checkSchemaDrift({ connectionString: database.url, models })).toEqual([
      'column Post.id (Post.id) has no default, expected autoincrement()',
      'column Post.score (Post.score) has default 2, expected 1.5',
      'column accounts.balance (Account.balance) has default 5, expected 0',
      'column accounts.created_at (Account.createdAt) has no default, expected now()',
      'column accounts.id (Account.id) has default gen_random_uuid(), expected none',
      "column accounts.nickname (Account.nickname) has default 'x'::text, expected none",
      'column accounts.settings (Account.settings) has default \'{}\'::jsonb, expected {"size":1,"theme":"dark"}',
      'column accounts.status (Account.status) has default \'active\'::"Status", expected CLOSED',
      "column accounts.tags (Account.tags) has default ARRAY['a'::text], expected [a, b]",
      'column accounts.updated_at (Account.updatedAt) has default CURRENT_TIMESTAMP, expected none',
    ]);
  });

  it('when a model has no table, then the missing table is reported', async () => {
    await queryOnce(database.url, 'DROP TABLE "Post"');

    expect(await checkSchemaDrift({ connectionString: database.url, models })).toEqual([
      'table Post (model Post) is missing',
    ]);
  });
});
