import pg from 'pg';
import { constraintDifferences, type LiveConstraints, readLiveConstraints } from './drift-constraints.js';
import { defaultDifference } from './drift-defaults.js';
import type { PrismaDataModel, PrismaField } from './prisma-schema.js';

export interface SchemaDriftOptions {
  connectionString: string;
  /** See `PrismaDataModel`: a generated client's runtime data model or `prismaModelsFromSchema`. */
  models: PrismaDataModel;
}

interface LiveColumn {
  table_name: string;
  column_name: string;
  nullable: boolean;
  /** As Postgres' `format_type` prints it, e.g. `character varying(254)`, `timestamp(3) with time zone`. */
  column_type: string;
  /** The default as `pg_get_expr` prints it; null when there is none. */
  column_default: string | null;
  is_identity: boolean;
}

/** Tables that belong to the tooling, not to any model. */
const bookkeepingTables = new Set(['_prisma_migrations']);

const liveColumnsSql = `
SELECT col.table_name, col.column_name, col.is_nullable = 'YES' AS nullable,
       format_type(att.atttypid, att.atttypmod) AS column_type,
       col.column_default, col.is_identity = 'YES' AS is_identity
FROM information_schema.columns AS col
JOIN information_schema.tables AS tab
  ON tab.table_schema = col.table_schema AND tab.table_name = col.table_name AND tab.table_type = 'BASE TABLE'
JOIN pg_catalog.pg_attribute AS att
  ON att.attrelid = (quote_ident(col.table_schema) || '.' || quote_ident(col.table_name))::regclass
 AND att.attname = col.column_name
WHERE col.table_schema = current_schema()`;

/** The column type Prisma's Postgres connector creates for each `@db.*` native type. */
function nativeColumnType(name: string, args: readonly string[]): string | undefined {
  const precision = args.length > 0 ? `(${args.join(',')})` : '';
  const fixed: Record<string, string> = {
    Text: 'text',
    Uuid: 'uuid',
    Xml: 'xml',
    Inet: 'inet',
    Citext: 'citext',
    Boolean: 'boolean',
    Integer: 'integer',
    SmallInt: 'smallint',
    BigInt: 'bigint',
    Oid: 'oid',
    DoublePrecision: 'double precision',
    Real: 'real',
    Money: 'money',
    Date: 'date',
    Json: 'json',
    JsonB: 'jsonb',
    ByteA: 'bytea',
  };
  const sized: Record<string, string> = {
    VarChar: `character varying${precision}`,
    Char: `character${precision || '(1)'}`,
    Bit: `bit${precision || '(1)'}`,
    VarBit: `bit varying${precision}`,
    Decimal: `numeric${precision}`,
    Timestamp: `timestamp${precision} without time zone`,
    Timestamptz: `timestamp${precision} with time zone`,
    Time: `time${precision} without time zone`,
    Timetz: `time${precision} with time zone`,
  };
  return fixed[name] ?? sized[name];
}

/** The column type Prisma creates for a scalar without `@db.*`. */
const defaultColumnTypes: Record<string, string> = {
  String: 'text',
  Boolean: 'boolean',
  Int: 'integer',
  BigInt: 'bigint',
  Float: 'double precision',
  Decimal: 'numeric(65,30)',
  DateTime: 'timestamp(3) without time zone',
  Json: 'jsonb',
  Bytes: 'bytea',
};

/** Column types (without size or precision) each Prisma scalar can live in. */
const typeFamilies: Record<string, readonly string[]> = {
  String: ['text', 'character varying', 'character', 'uuid', 'citext', 'xml', 'inet', 'bit', 'bit varying'],
  Boolean: ['boolean'],
  Int: ['integer', 'smallint', 'oid'],
  BigInt: ['bigint'],
  Float: ['double precision', 'real'],
  Decimal: ['numeric', 'money'],
  DateTime: [
    'timestamp without time zone',
    'timestamp with time zone',
    'date',
    'time without time zone',
    'time with time zone',
  ],
  Json: ['jsonb', 'json'],
  Bytes: ['bytea'],
};

function withoutQuotes(columnType: string): string {
  return columnType.replaceAll('"', '');
}

function withoutSizes(columnType: string): string {
  return columnType.replace(/\(\d+(,\d+)?\)/g, '').replace(/\[\]$/, '');
}

/** The exact expected type, or undefined when the metadata is too thin (runtime data model). */
function exactExpectedType(field: PrismaField, models: PrismaDataModel): string | undefined {
  if (field.nativeType === undefined || field.isList === undefined) return undefined;
  let base: string | undefined;
  if (field.kind === 'enum') base = models.enums?.[field.type]?.dbName ?? field.type;
  else if (field.nativeType !== null) base = nativeColumnType(field.nativeType[0], field.nativeType[1]);
  else base = defaultColumnTypes[field.type];
  return base === undefined ? undefined : `${base}${field.isList ? '[]' : ''}`;
}

function typeDifference(qualified: string, field: PrismaField, live: LiveColumn, models: PrismaDataModel) {
  const actual = withoutQuotes(live.column_type);
  const exact = exactExpectedType(field, models);
  if (exact !== undefined) {
    return exact === actual ? undefined : `column ${qualified} has type ${actual}, expected ${exact}`;
  }
  const family = typeFamilies[field.type];
  if (family === undefined || family.includes(withoutSizes(actual))) return undefined;
  return `column ${qualified} has type ${actual}, which cannot hold Prisma type ${field.type}`;
}

function nullabilityDifference(qualified: string, field: PrismaField, live: LiveColumn): string | undefined {
  // Prisma creates scalar lists as nullable arrays whatever the schema says, so lists are skipped.
  if (field.isRequired === undefined || field.isList === true) return undefined;
  if (field.isRequired && live.nullable) return `column ${qualified} is nullable, expected NOT NULL`;
  if (!field.isRequired && !live.nullable) return `column ${qualified} is NOT NULL, expected nullable`;
  return undefined;
}

function modelDifferences(
  modelName: string,
  table: string,
  fields: readonly PrismaField[],
  liveColumns: Map<string, LiveColumn>,
  models: PrismaDataModel,
): string[] {
  const differences: string[] = [];
  const expectedColumns = new Set<string>();
  for (const field of fields) {
    if (field.kind === 'object') continue;
    const column = field.dbName ?? field.name;
    expectedColumns.add(column);
    const qualified = `${table}.${column} (${modelName}.${field.name})`;
    const live = liveColumns.get(column);
    if (live === undefined) {
      differences.push(`column ${qualified} is missing`);
      continue;
    }
    if (field.kind === 'unsupported') continue;
    const problems = [
      typeDifference(qualified, field, live, models),
      nullabilityDifference(qualified, field, live),
      defaultDifference(qualified, field, { expression: live.column_default, isIdentity: live.is_identity }),
    ];
    differences.push(...problems.filter((problem) => problem !== undefined));
  }
  for (const column of liveColumns.keys()) {
    if (!expectedColumns.has(column))
      differences.push(`column ${table}.${column} is not in model ${modelName}`);
  }
  return differences;
}

async function readLiveColumns(client: pg.Client): Promise<Map<string, Map<string, LiveColumn>>> {
  const { rows } = await client.query<LiveColumn>(liveColumnsSql);
  const tables = new Map<string, Map<string, LiveColumn>>();
  for (const row of rows) {
    if (bookkeepingTables.has(row.table_name)) continue;
    const columns = tables.get(row.table_name) ?? new Map<string, LiveColumn>();
    columns.set(row.column_name, row);
    tables.set(row.table_name, columns);
  }
  return tables;
}

interface LiveSchema {
  tables: Map<string, Map<string, LiveColumn>>;
  constraints: LiveConstraints;
}

async function readLiveSchema(connectionString: string): Promise<LiveSchema> {
  const client = new pg.Client({ connectionString, application_name: 'schema-drift-check' });
  await client.connect();
  try {
    return { tables: await readLiveColumns(client), constraints: await readLiveConstraints(client) };
  } finally {
    await client.end();
  }
}

/**
 * Compares the live database (its current schema, as the Postgres catalogs show it) with Prisma
 * model metadata: tables, columns, column types, nullability, column defaults, primary keys,
 * unique and plain indexes and foreign keys with their referential actions. Returns one
 * human-readable line per difference, sorted; empty means in sync. What Prisma cannot express
 * (CHECK constraints, expression and partial indexes) is left to the migrations that add it. How
 * much is compared depends on the metadata: see `PrismaDataModel`.
 */
export async function checkSchemaDrift(options: SchemaDriftOptions): Promise<string[]> {
  const { tables: liveTables, constraints } = await readLiveSchema(options.connectionString);
  const differences: string[] = [];
  const expectedTables = new Set<string>();
  for (const [modelName, model] of Object.entries(options.models.models)) {
    const table = model.dbName ?? modelName;
    expectedTables.add(table);
    const liveColumns = liveTables.get(table);
    if (liveColumns === undefined) {
      differences.push(`table ${table} (model ${modelName}) is missing`);
      continue;
    }
    differences.push(...modelDifferences(modelName, table, model.fields, liveColumns, options.models));
    differences.push(...constraintDifferences({ modelName, model, table }, constraints, options.models));
  }
  for (const table of liveTables.keys()) {
    if (!expectedTables.has(table)) differences.push(`table ${table} is not in any model`);
  }
  return differences.sort();
}
