import type pg from 'pg';
import type { PrismaDataModel, PrismaForeignKey, PrismaIndex, PrismaModel } from './prisma-schema.js';

interface LiveIndex {
  table_name: string;
  index_name: string;
  is_primary: boolean;
  is_unique: boolean;
  method: string;
  /** False for expression and partial indexes, which a Prisma model cannot describe. */
  is_plain: boolean;
  columns: string[];
}

interface LiveForeignKey {
  table_name: string;
  constraint_name: string;
  columns: string[];
  referenced_table: string;
  referenced_columns: string[];
  /** pg_constraint's one-letter action codes. */
  on_delete: string;
  on_update: string;
}

/** Indexes and foreign keys of the current schema's tables, by table name. */
export interface LiveConstraints {
  indexes: Map<string, LiveIndex[]>;
  foreignKeys: Map<string, LiveForeignKey[]>;
}

/** Key columns (INCLUDE columns left out) of each index, in index order. */
const liveIndexesSql = `
SELECT tab.relname AS table_name, idx.relname AS index_name, ix.indisprimary AS is_primary,
       ix.indisunique AS is_unique, am.amname AS method,
       ix.indexprs IS NULL AND ix.indpred IS NULL AS is_plain,
       ARRAY(SELECT att.attname::text
             FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS key(attnum, position)
             JOIN pg_attribute AS att ON att.attrelid = ix.indrelid AND att.attnum = key.attnum
             WHERE key.position <= ix.indnkeyatts ORDER BY key.position) AS columns
FROM pg_index AS ix
JOIN pg_class AS tab ON tab.oid = ix.indrelid
JOIN pg_class AS idx ON idx.oid = ix.indexrelid
JOIN pg_am AS am ON am.oid = idx.relam
WHERE tab.relnamespace = current_schema()::regnamespace`;

const liveForeignKeysSql = `
SELECT tab.relname AS table_name, con.conname AS constraint_name, ref.relname AS referenced_table,
       ARRAY(SELECT att.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS key(attnum, position)
             JOIN pg_attribute AS att ON att.attrelid = con.conrelid AND att.attnum = key.attnum
             ORDER BY key.position) AS columns,
       ARRAY(SELECT att.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS key(attnum, position)
             JOIN pg_attribute AS att ON att.attrelid = con.confrelid AND att.attnum = key.attnum
             ORDER BY key.position) AS referenced_columns,
       con.confdeltype AS on_delete, con.confupdtype AS on_update
FROM pg_constraint AS con
JOIN pg_class AS tab ON tab.oid = con.conrelid
JOIN pg_class AS ref ON ref.oid = con.confrelid
WHERE con.contype = 'f' AND tab.relnamespace = current_schema()::regnamespace`;

/** Prisma's names for pg_constraint's referential action codes. */
const actionNames: Record<string, string> = {
  a: 'NoAction',
  r: 'Restrict',
  c: 'Cascade',
  n: 'SetNull',
  d: 'SetDefault',
};

function byTable<Row extends { table_name: string }>(rows: readonly Row[]): Map<string, Row[]> {
  const tables = new Map<string, Row[]>();
  for (const row of rows) tables.set(row.table_name, [...(tables.get(row.table_name) ?? []), row]);
  return tables;
}

export async function readLiveConstraints(client: pg.Client): Promise<LiveConstraints> {
  const indexes = await client.query<LiveIndex>(liveIndexesSql);
  const foreignKeys = await client.query<LiveForeignKey>(liveForeignKeysSql);
  return { indexes: byTable(indexes.rows), foreignKeys: byTable(foreignKeys.rows) };
}

/** Column names of the given fields of a model (a name without a field is kept as it is). */
function columnsOf(model: PrismaModel | undefined, fieldNames: readonly string[]): string[] {
  return fieldNames.map((name) => {
    const field = model?.fields.find((each) => each.name === name);
    return field?.dbName ?? name;
  });
}

const list = (columns: readonly string[]) => `(${columns.join(', ')})`;
const using = (method: string | undefined) =>
  method === undefined || method === 'btree' ? '' : ` using ${method}`;

/** Where the model is compared: its name and table. */
interface Subject {
  modelName: string;
  model: PrismaModel;
  table: string;
}

function primaryKeyDifferences(subject: Subject, expected: PrismaIndex | undefined, live: LiveIndex[]) {
  const { modelName, model, table } = subject;
  const livePrimary = live.find((index) => index.is_primary);
  if (expected === undefined) {
    return livePrimary
      ? [`primary key ${livePrimary.index_name} on ${table} is not in model ${modelName}`]
      : [];
  }
  const columns = columnsOf(model, expected.fields);
  if (livePrimary === undefined)
    return [`primary key on ${table} ${list(columns)} (model ${modelName}) is missing`];
  if (list(livePrimary.columns) === list(columns)) return [];
  return [
    `primary key ${livePrimary.index_name} on ${table} is ${list(livePrimary.columns)}, expected ${list(columns)}`,
  ];
}

function indexDifferences(subject: Subject, live: LiveIndex[]): string[] {
  const { modelName, model, table } = subject;
  const differences = primaryKeyDifferences(
    subject,
    model.indexes?.find((index) => index.type === 'id'),
    live,
  );
  const keyOf = (unique: boolean, method: string, columns: readonly string[]) =>
    `${unique}|${method}|${columns.join(',')}`;
  const unmatched = live.filter((index) => !index.is_primary && index.is_plain);
  for (const expected of model.indexes ?? []) {
    if (expected.type === 'id') continue;
    const columns = columnsOf(model, expected.fields);
    const method = expected.algorithm ?? 'btree';
    const key = keyOf(expected.type === 'unique', method, columns);
    const found = unmatched.findIndex((index) => keyOf(index.is_unique, index.method, index.columns) === key);
    if (found >= 0) unmatched.splice(found, 1);
    else {
      const kind = expected.type === 'unique' ? 'unique index' : 'index';
      differences.push(
        `${kind}${using(method)} on ${table} ${list(columns)} (model ${modelName}) is missing`,
      );
    }
  }
  for (const index of unmatched) {
    const kind = index.is_unique ? 'unique index' : 'index';
    differences.push(
      `${kind} ${index.index_name}${using(index.method)} on ${table} ${list(index.columns)} is not in model ${modelName}`,
    );
  }
  return differences;
}

function actionDifferences(live: LiveForeignKey, expected: PrismaForeignKey, table: string): string[] {
  const differences: string[] = [];
  const name = `foreign key ${live.constraint_name} on ${table} ${list(live.columns)}`;
  const onDelete = actionNames[live.on_delete] ?? live.on_delete;
  const onUpdate = actionNames[live.on_update] ?? live.on_update;
  if (onDelete !== expected.onDelete)
    differences.push(`${name} has ON DELETE ${onDelete}, expected ${expected.onDelete}`);
  if (onUpdate !== expected.onUpdate)
    differences.push(`${name} has ON UPDATE ${onUpdate}, expected ${expected.onUpdate}`);
  return differences;
}

function foreignKeyDifferences(subject: Subject, live: LiveForeignKey[], models: PrismaDataModel): string[] {
  const { modelName, model, table } = subject;
  if (model.foreignKeys === undefined) return [];
  const differences: string[] = [];
  const unmatched = [...live];
  for (const expected of model.foreignKeys) {
    const referenced = models.models[expected.referencedModel];
    const referencedTable = referenced?.dbName ?? expected.referencedModel;
    const columns = columnsOf(model, expected.fields);
    const referencedColumns = columnsOf(referenced, expected.references);
    const found = unmatched.findIndex(
      (key) =>
        key.referenced_table === referencedTable &&
        list(key.columns) === list(columns) &&
        list(key.referenced_columns) === list(referencedColumns),
    );
    const target = `${referencedTable} ${list(referencedColumns)}`;
    if (found < 0) {
      differences.push(
        `foreign key on ${table} ${list(columns)} referencing ${target} (model ${modelName}) is missing`,
      );
      continue;
    }
    differences.push(...actionDifferences(unmatched[found]!, expected, table));
    unmatched.splice(found, 1);
  }
  for (const key of unmatched) {
    const target = `${key.referenced_table} ${list(key.referenced_columns)}`;
    differences.push(
      `foreign key ${key.constraint_name} on ${table} ${list(key.columns)} referencing ${target} is not in model ${modelName}`,
    );
  }
  return differences;
}

/**
 * Differences in primary key, unique and plain indexes (by column list, uniqueness and method)
 * and foreign keys (columns, referenced table and columns, ON DELETE and ON UPDATE). Expression
 * and partial indexes, which Prisma cannot describe, are left to the migrations that add them,
 * like CHECK constraints. Metadata without indexes or foreign keys skips that comparison.
 */
export function constraintDifferences(
  subject: Subject,
  live: LiveConstraints,
  models: PrismaDataModel,
): string[] {
  const differences: string[] = [];
  if (subject.model.indexes !== undefined) {
    differences.push(...indexDifferences(subject, live.indexes.get(subject.table) ?? []));
  }
  differences.push(...foreignKeyDifferences(subject, live.foreignKeys.get(subject.table) ?? [], models));
  return differences;
}
