import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkSchemaDrift, type PrismaDataModel, prismaModelsFromSchema } from '../src/index.js';
import { queryOnce, type ScratchDatabase, scratchDatabase } from './support.js';

const schema = `
enum Status {
  active
  closed
}

model Account {
  id        String    @id @db.Uuid
  email     String    @db.VarChar(254)
  nickname  String?
  status    Status    @default(active)
  tags      String[]
  balance   BigInt    @default(0)
  createdAt DateTime  @default(now()) @map("created_at") @db.Timestamptz(3)
  seenAt    DateTime? @map("seen_at")
  posts     Post[]

  @@map("accounts")
}

model Post {
  id        Int    @id @default(autoincrement())
  accountId String @map("account_id") @db.Uuid
  body      Json
  account   Account @relation(fields: [accountId], references: [id])
}
`;

const matchingSql = `
CREATE TYPE "Status" AS ENUM ('active', 'closed');
CREATE TABLE "accounts" (
  "id" UUID NOT NULL PRIMARY KEY,
  "email" VARCHAR(254) NOT NULL,
  "nickname" TEXT,
  "status" "Status" NOT NULL DEFAULT 'active',
  "tags" TEXT[],
  "balance" BIGINT NOT NULL DEFAULT 0,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "seen_at" TIMESTAMP(3)
);
CREATE TABLE "Post" (
  "id" SERIAL NOT NULL PRIMARY KEY,
  "account_id" UUID NOT NULL REFERENCES "accounts"("id"),
  "body" JSONB NOT NULL
);`;

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

  it('when only a runtime data model is given, then columns and type families are still checked', async () => {
    await queryOnce(
      database.url,
      'ALTER TABLE "accounts" DROP COLUMN "nickname"; ALTER TABLE "Post" ALTER COLUMN "body" TYPE TEXT;',
    );

    expect(
      await checkSchemaDrift({ connectionString: database.url, models: prunedLikeRuntimeDataModel(models) }),
    ).toEqual([
      'column Post.body (Post.body) has type text, which cannot hold Prisma type Json',
      'column accounts.nickname (Account.nickname) is missing',
    ]);
  });

  it('when a model has no table, then the missing table is reported', async () => {
    await queryOnce(database.url, 'DROP TABLE "Post"');

    expect(await checkSchemaDrift({ connectionString: database.url, models })).toEqual([
      'table Post (model Post) is missing',
    ]);
  });
});
