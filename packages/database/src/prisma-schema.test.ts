import { describe, expect, it } from 'vitest';
import { prismaModelsFromSchema } from './prisma-schema.js';

const schema = `
// A comment with a { brace
enum Role {
  user
  admin
  @@map("role")
}

/// Documentation lines are comments too.
model Account {
  id       String   @id @default(uuid(7)) @db.Uuid
  email    String   @unique @db.VarChar(254) // trailing comment
  url      String?  @default("https://example.test/a//b")
  roles    Role[]
  tags     String[] @default(["a"])
  balance  Decimal  @db.Decimal(20, 0)
  settings Json     @default("{}")
  legacy   Int      @ignore
  posts    Post[]

  @@index([email])
  @@map("accounts")
}

model Post {
  id        BigInt  @id @default(autoincrement())
  accountId String  @map("account_id") @db.Uuid
  account   Account @relation(fields: [accountId], references: [id])
}

model Hidden {
  id Int @id
  @@ignore
}
`;

describe('prismaModelsFromSchema', () => {
  const parsed = prismaModelsFromSchema(schema);

  it('when a schema is parsed, then models get their @@map table names and ignored models are left out', () => {
    expect(Object.keys(parsed.models)).toEqual(['Account', 'Post']);
    expect(parsed.models.Account?.dbName).toBe('accounts');
    expect(parsed.models.Post?.dbName).toBeNull();
    expect(parsed.enums).toEqual({ Role: { dbName: 'role' } });
  });

  it('when fields are parsed, then optionality, lists, kinds, @map and @db types are captured', () => {
    const fields = Object.fromEntries(parsed.models.Account!.fields.map((field) => [field.name, field]));

    expect(fields.id).toEqual({
      name: 'id',
      kind: 'scalar',
      type: 'String',
      dbName: null,
      isRequired: true,
      isList: false,
      nativeType: ['Uuid', []],
    });
    expect(fields.email?.nativeType).toEqual(['VarChar', ['254']]);
    expect(fields.url).toMatchObject({ isRequired: false, isList: false, nativeType: null });
    expect(fields.roles).toMatchObject({ kind: 'enum', type: 'Role', isList: true, isRequired: false });
    expect(fields.tags).toMatchObject({ kind: 'scalar', isList: true });
    expect(fields.balance?.nativeType).toEqual(['Decimal', ['20', '0']]);
    expect(fields.posts).toMatchObject({ kind: 'object', type: 'Post' });
    expect(fields.legacy).toBeUndefined();
    const accountId = parsed.models.Post!.fields.find((field) => field.name === 'accountId');
    expect(accountId?.dbName).toBe('account_id');
  });
});
