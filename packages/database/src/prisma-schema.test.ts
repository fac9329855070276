import { describe, expect, it } from 'vitest';
import { prismaModelsFromSchema } from './prisma-schema.js';

const schema = `
// A comment with a { brace
enum Role {
  user
  admin @map("ADMIN")
  @@map("role")
}

/// Documentation lines are comments too.
model Account {
  id       String   @id @default(uuid(7)) @db.Uuid
  email    String   @unique @db.VarChar(254) // trailing comment
  url      String?  @default("https://example.test/a//b")
  roles    Role[]   @default([user, admin])
  tags     String[] @default(["a"])
  balance  Decimal  @db.Decimal(20, 0)
  settings Json     @default("{}")
  legacy   Int      @ignore
  posts    Post[]

  createdAt DateTime @default(now())
  bornAt   DateTime @default("2020-01-01T00:00:00Z")
  computed String   @default(dbgenerated("gen_random_uuid()"))

  @@index([email])
  @@index([settings], type: Gin, map: "settings_gin")
  @@unique(fields: [url, balance])
  @@map("accounts")
}

model Post {
  id        BigInt   @default(autoincrement())
  accountId String   @map("account_id") @db.Uuid
  editorId  String?  @map("editor_id") @db.Uuid
  account   Account  @relation("author", fields: [accountId], references: [id])
  editor    Account? @relation("editor", fields: [editorId], references: [id], onUpdate: NoAction)
  owner     Account  @relation(name: "owner", fields: [ownerId, ownerEmail], references: [id, email], onDelete: Cascade)
  ownerId    String
  ownerEmail String

  @@id([id, accountId])
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
    expect(parsed.enums).toEqual({
      Role: {
        dbName: 'role',
        values: [
          { name: 'user', dbName: null },
          { name: 'admin', dbName: 'ADMIN' },
        ],
      },
    });
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
      columnDefault: { kind: 'none' },
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

  it('when defaults are parsed, then each becomes the SQL default Prisma Migrate would create', () => {
    const defaults = Object.fromEntries(
      parsed.models.Account!.fields.map((field) => [field.name, field.columnDefault]),
    );

    expect(defaults).toMatchObject({
      id: { kind: 'none' },
      email: { kind: 'none' },
      url: { kind: 'literal', value: 'https://example.test/a//b' },
      roles: { kind: 'literal', value: ['user', 'ADMIN'] },
      tags: { kind: 'literal', value: ['a'] },
      settings: { kind: 'literal', value: '{}' },
      createdAt: { kind: 'now' },
      bornAt: { kind: 'database', description: '2020-01-01T00:00:00Z' },
      computed: { kind: 'database', description: 'dbgenerated(gen_random_uuid())' },
    });
    expect(defaults.posts).toBeUndefined();
    expect(parsed.models.Post!.fields[0]!.columnDefault).toEqual({ kind: 'autoincrement' });
  });

  it('when keys and indexes are parsed, then @id, @unique, @@id, @@unique and @@index are all captured', () => {
    expect(parsed.models.Account?.indexes).toEqual([
      { type: 'id', fields: ['id'] },
      { type: 'unique', fields: ['email'] },
      { type: 'normal', fields: ['email'] },
      { type: 'normal', fields: ['settings'], algorithm: 'gin' },
      { type: 'unique', fields: ['url', 'balance'] },
    ]);
    expect(parsed.models.Post?.indexes).toEqual([{ type: 'id', fields: ['id', 'accountId'] }]);
  });

  it('when relations are parsed, then foreign keys get their columns and Prisma default actions', () => {
    expect(parsed.models.Post?.foreignKeys).toEqual([
      {
        fields: ['accountId'],
        referencedModel: 'Account',
        references: ['id'],
        onDelete: 'Restrict',
        onUpdate: 'Cascade',
      },
      {
        fields: ['editorId'],
        referencedModel: 'Account',
        references: ['id'],
        onDelete: 'SetNull',
        onUpdate: 'NoAction',
      },
      {
        fields: ['ownerId', 'ownerEmail'],
        referencedModel: 'Account',
        references: ['id', 'email'],
        onDelete: 'Cascade',
        onUpdate: 'Cascade',
      },
    ]);
    expect(parsed.models.Account?.foreignKeys).toEqual([]);
  });

  it('when the schema emulates relations, then no foreign keys are expected', () => {
    const emulated = prismaModelsFromSchema(`datasource db {\n  relationMode = "prisma"\n}\n${schema}`);

    expect(emulated.models.Post?.foreignKeys).toEqual([]);
  });
});
