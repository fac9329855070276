/**
 * A field as Prisma's DMMF describes it (only the properties drift checking reads).
 */
export interface PrismaField {
  name: string;
  /** `scalar`, `enum`, `object` (a relation: no column), or `unsupported`. */
  kind: string;
  /** Prisma type (`String`, `DateTime`, ...), enum name or related model name. */
  type: string;
  /** Column name when `@map` renames it. */
  dbName?: string | null;
  /** Absent: nullability is not compared. */
  isRequired?: boolean;
  /** Absent: whether the column is an array is not compared. */
  isList?: boolean;
  /** `@db.VarChar(254)` is `['VarChar', ['254']]`; null means the default mapping; absent: unknown. */
  nativeType?: readonly [string, readonly string[]] | null;
}

export interface PrismaModel {
  /** Table name when `@@map` renames it. */
  dbName?: string | null;
  fields: readonly PrismaField[];
}

export interface PrismaEnum {
  /** Postgres type name when `@@map` renames the enum. */
  dbName?: string | null;
}

/**
 * The model metadata `checkSchemaDrift` compares with the database: models and enums keyed by
 * name, in the shape of Prisma's runtime data model. A generated Prisma 7 `prisma-client` client
 * carries one (`prisma._runtimeDataModel`, which fits this type as it is), but prunes its fields
 * to names, kinds, Prisma types and `dbName`s: `isRequired`, `isList` and `nativeType` are absent,
 * so only tables, columns and type families can be compared from it. `prismaModelsFromSchema`
 * rebuilds the full metadata from the schema text the client was generated from (the schema file,
 * or the client's inline schema), with which nullability, arrays and exact types are compared too.
 */
export interface PrismaDataModel {
  models: Readonly<Record<string, PrismaModel>>;
  enums?: Readonly<Record<string, PrismaEnum>>;
}

const scalarTypes = new Set([
  'String',
  'Boolean',
  'Int',
  'BigInt',
  'Float',
  'Decimal',
  'DateTime',
  'Json',
  'Bytes',
]);

const blockStart = /^(model|enum|view|type)\s+(\w+)\s*\{$/;
const fieldLine = /^(\w+)\s+(Unsupported\("(?:[^"\\]|\\.)*"\)|\w+)(\[\])?(\?)?(.*)$/;
const mapAttribute = /@map\(\s*(?:name:\s*)?"([^"]+)"/;
const blockMapAttribute = /^@@map\(\s*(?:name:\s*)?"([^"]+)"/;
const nativeTypeAttribute = /@db\.(\w+)(?:\(([^)]*)\))?/;

/** Drops a `//` comment, leaving `//` inside string literals alone. */
function withoutComment(line: string): string {
  let inString = false;
  for (let index = 0; index < line.length; index += 1) {
    const character = line[index];
    if (character === '\\' && inString) index += 1;
    else if (character === '"') inString = !inString;
    else if (!inString && character === '/' && line[index + 1] === '/') return line.slice(0, index);
  }
  return line;
}

interface Block {
  keyword: string;
  name: string;
  lines: string[];
}

function blocksOf(schema: string): Block[] {
  const blocks: Block[] = [];
  let current: Block | undefined;
  for (const rawLine of schema.split(/\r?\n/)) {
    const line = withoutComment(rawLine).trim();
    if (line.length === 0) continue;
    if (current === undefined) {
      const start = blockStart.exec(line);
      if (start) current = { keyword: start[1]!, name: start[2]!, lines: [] };
    } else if (line === '}') {
      blocks.push(current);
      current = undefined;
    } else {
      current.lines.push(line);
    }
  }
  return blocks;
}

function kindOf(type: string, enumNames: Set<string>): string {
  if (scalarTypes.has(type)) return 'scalar';
  if (enumNames.has(type)) return 'enum';
  if (type.startsWith('Unsupported(')) return 'unsupported';
  return 'object';
}

function parseField(line: string, enumNames: Set<string>): PrismaField | undefined {
  const match = fieldLine.exec(line);
  if (!match) return undefined;
  const [, name, type, list, optional, attributes = ''] = match;
  if (/@ignore\b/.test(attributes)) return undefined;
  const native = nativeTypeAttribute.exec(attributes);
  const nativeArguments = native?.[2]
    ?.split(',')
    .map((argument) => argument.trim())
    .filter((argument) => argument.length > 0);
  return {
    name: name!,
    kind: kindOf(type!, enumNames),
    type: type!,
    dbName: mapAttribute.exec(attributes)?.[1] ?? null,
    isRequired: optional === undefined && list === undefined,
    isList: list !== undefined,
    nativeType: native ? [native[1]!, nativeArguments ?? []] : null,
  };
}

function blockDbName(block: Block): string | null {
  for (const line of block.lines) {
    const match = blockMapAttribute.exec(line);
    if (match) return match[1]!;
  }
  return null;
}

/**
 * Reads models and enums out of Prisma schema text (a `schema.prisma` file, or the inline schema
 * a generated client carries) with every property `checkSchemaDrift` compares. Relations are
 * kept as `object` fields (they have no column); `@ignore`d fields and `@@ignore`d models are left
 * out, as Prisma's client leaves them out.
 */
export function prismaModelsFromSchema(schema: string): PrismaDataModel {
  const blocks = blocksOf(schema);
  const enums: Record<string, PrismaEnum> = {};
  for (const block of blocks) {
    if (block.keyword === 'enum') enums[block.name] = { dbName: blockDbName(block) };
  }
  const enumNames = new Set(Object.keys(enums));
  const models: Record<string, PrismaModel> = {};
  for (const block of blocks) {
    if (block.keyword !== 'model' || block.lines.some((line) => line.startsWith('@@ignore'))) continue;
    const fields = block.lines
      .filter((line) => !line.startsWith('@@'))
      .map((line) => parseField(line, enumNames))
      .filter((field): field is PrismaField => field !== undefined);
    models[block.name] = { dbName: blockDbName(block), fields };
  }
  return { models, enums };
}
