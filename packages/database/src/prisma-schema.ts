import {
  type Attribute,
  type AttributeValue,
  argumentOf,
  attributesOf,
  fieldNamesOf,
  textOf,
} from './prisma-attributes.js';

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
  /** The default Prisma Migrate gives the column in SQL; absent: defaults are not compared. */
  columnDefault?: PrismaColumnDefault;
}

/**
 * A column's SQL default as Prisma Migrate creates it. `none` covers fields without `@default`
 * and the defaults Prisma Client computes itself (`uuid()`, `uuid(7)`, `cuid()`, `nanoid()`,
 * `ulid()`, `@updatedAt`), which leave the column without one. `database` is a default whose
 * exact SQL is not compared (`dbgenerated(...)`, DateTime literals), only its presence.
 */
export type PrismaColumnDefault =
  | { kind: 'none' }
  | { kind: 'now' }
  | { kind: 'autoincrement' }
  | { kind: 'literal'; value: string | readonly string[] }
  | { kind: 'database'; description: string };

/** A primary key (`@id`, `@@id`), unique index (`@unique`, `@@unique`) or plain index (`@@index`). */
export interface PrismaIndex {
  type: 'id' | 'unique' | 'normal';
  /** Field names in index order (sort orders and lengths are not kept). */
  fields: readonly string[];
  /** Index method in Postgres' spelling (`btree`, `gin`, `hash`, ...); absent means btree. */
  algorithm?: string;
}

/** The foreign key a relation field's `@relation(fields: ..., references: ...)` creates. */
export interface PrismaForeignKey {
  fields: readonly string[];
  referencedModel: string;
  references: readonly string[];
  /** Prisma's action names (`Cascade`, `Restrict`, `NoAction`, `SetNull`, `SetDefault`), defaults applied. */
  onDelete: string;
  onUpdate: string;
}

export interface PrismaModel {
  /** Table name when `@@map` renames it. */
  dbName?: string | null;
  fields: readonly PrismaField[];
  /** Absent: the primary key and indexes are not compared. */
  indexes?: readonly PrismaIndex[];
  /** Absent: foreign keys are not compared. */
  foreignKeys?: readonly PrismaForeignKey[];
}

export interface PrismaEnum {
  /** Postgres type name when `@@map` renames the enum. */
  dbName?: string | null;
  /** Values with their `@map` names, which column defaults use. */
  values?: readonly { name: string; dbName?: string | null }[];
}

/**
 * The model metadata `checkSchemaDrift` compares with the database: models and enums keyed by
 * name, in the shape of Prisma's runtime data model. A generated Prisma 7 `prisma-client` client
 * carries one (`prisma._runtimeDataModel`, which fits this type as it is), but prunes its fields
 * to names, kinds, Prisma types and `dbName`s: `isRequired`, `isList` and `nativeType` are absent,
 * so only tables, columns and type families can be compared from it. `prismaModelsFromSchema`
 * rebuilds the full metadata from the schema text the client was generated from (the schema file,
 * or the client's inline schema), with which nullability, arrays, exact types, column defaults,
 * primary keys, indexes and foreign keys are compared too.
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
const enumValueLine = /^(\w+)(.*)$/;
/** With `relationMode = "prisma"` Prisma emulates relations and creates no foreign keys. */
const emulatedRelations = /^\s*relationMode\s*=\s*"prisma"/m;

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

function kindOf(type: string, enumNames: ReadonlySet<string>): string {
  if (scalarTypes.has(type)) return 'scalar';
  if (enumNames.has(type)) return 'enum';
  if (type.startsWith('Unsupported(')) return 'unsupported';
  return 'object';
}

/** The `@map`/`@@map` name among the attributes, if any. */
function mappedName(attributes: readonly Attribute[], attributeName: string): string | null {
  const map = attributes.find((attribute) => attribute.name === attributeName);
  return (map && textOf(argumentOf(map, 'name', 0))) ?? null;
}

function nativeTypeOf(attributes: readonly Attribute[]): readonly [string, readonly string[]] | null {
  const native = attributes.find((attribute) => attribute.name.startsWith('@db.'));
  if (native === undefined) return null;
  const nativeArguments = native.args.map((argument) => textOf(argument.value) ?? '');
  return [native.name.slice('@db.'.length), nativeArguments];
}

/** The value an enum value is stored as, which its `@map` may rename. */
function enumValueInDatabase(enumeration: PrismaEnum | undefined, value: string): string {
  return enumeration?.values?.find((each) => each.name === value)?.dbName ?? value;
}

function columnDefaultOf(
  field: PrismaField,
  attributes: readonly Attribute[],
  enums: Readonly<Record<string, PrismaEnum>>,
): PrismaColumnDefault {
  const attribute = attributes.find((each) => each.name === '@default');
  const value = attribute && argumentOf(attribute, 'value', 0);
  if (value === undefined) return { kind: 'none' };
  if (value.kind === 'call') {
    if (value.name === 'now') return { kind: 'now' };
    if (value.name === 'autoincrement') return { kind: 'autoincrement' };
    if (value.name === 'dbgenerated') {
      return { kind: 'database', description: `dbgenerated(${textOf(value.args[0]?.value) ?? ''})` };
    }
    // uuid(), cuid(), nanoid(), ulid(): Prisma Client generates the value; the column has no default.
    return { kind: 'none' };
  }
  const literal = (item: AttributeValue): string =>
    field.kind === 'enum' && item.kind === 'word'
      ? enumValueInDatabase(enums[field.type], item.text)
      : (textOf(item) ?? '');
  // Postgres prints timestamp defaults in its own format and time zone, so only presence is compared.
  if (field.type === 'DateTime') return { kind: 'database', description: literal(value) };
  if (value.kind === 'list') return { kind: 'literal', value: value.items.map(literal) };
  return { kind: 'literal', value: literal(value) };
}

interface ParsedField {
  field: PrismaField;
  attributes: Attribute[];
  isOptional: boolean;
}

function parseField(
  line: string,
  enums: Readonly<Record<string, PrismaEnum>>,
  enumNames: ReadonlySet<string>,
): ParsedField | undefined {
  const match = fieldLine.exec(line);
  if (!match) return undefined;
  const [, name, type, list, optional, attributeText = ''] = match;
  const attributes = attributesOf(attributeText);
  if (attributes.some((attribute) => attribute.name === '@ignore')) return undefined;
  const field: PrismaField = {
    name: name!,
    kind: kindOf(type!, enumNames),
    type: type!,
    dbName: mappedName(attributes, '@map'),
    isRequired: optional === undefined && list === undefined,
    isList: list !== undefined,
    nativeType: nativeTypeOf(attributes),
  };
  if (field.kind !== 'object') field.columnDefault = columnDefaultOf(field, attributes, enums);
  return { field, attributes, isOptional: optional !== undefined };
}

/** `@id` and `@unique` on fields, then `@@id`, `@@unique` and `@@index` lines. */
function indexesOf(
  parsedFields: readonly ParsedField[],
  blockAttributes: readonly Attribute[],
): PrismaIndex[] {
  const indexes: PrismaIndex[] = [];
  for (const { field, attributes } of parsedFields) {
    if (attributes.some((attribute) => attribute.name === '@id')) {
      indexes.push({ type: 'id', fields: [field.name] });
    }
    if (attributes.some((attribute) => attribute.name === '@unique')) {
      indexes.push({ type: 'unique', fields: [field.name] });
    }
  }
  const types: Record<string, PrismaIndex['type']> = {
    '@@id': 'id',
    '@@unique': 'unique',
    '@@index': 'normal',
  };
  for (const attribute of blockAttributes) {
    const type = types[attribute.name];
    if (type === undefined) continue;
    const algorithm = textOf(argumentOf(attribute, 'type'))?.toLowerCase();
    const fields = fieldNamesOf(argumentOf(attribute, 'fields', 0));
    indexes.push(algorithm === undefined ? { type, fields } : { type, fields, algorithm });
  }
  return indexes;
}

/**
 * The foreign keys of relation fields that hold them. Without explicit actions Prisma uses
 * Restrict on delete (SetNull when the relation is optional) and Cascade on update.
 */
function foreignKeysOf(parsedFields: readonly ParsedField[]): PrismaForeignKey[] {
  const foreignKeys: PrismaForeignKey[] = [];
  for (const { field, attributes, isOptional } of parsedFields) {
    const relation = attributes.find((attribute) => attribute.name === '@relation');
    const fields = relation ? fieldNamesOf(argumentOf(relation, 'fields')) : [];
    if (relation === undefined || fields.length === 0) continue;
    foreignKeys.push({
      fields,
      referencedModel: field.type,
      references: fieldNamesOf(argumentOf(relation, 'references')),
      onDelete: textOf(argumentOf(relation, 'onDelete')) ?? (isOptional ? 'SetNull' : 'Restrict'),
      onUpdate: textOf(argumentOf(relation, 'onUpdate')) ?? 'Cascade',
    });
  }
  return foreignKeys;
}

function enumOf(block: Block): PrismaEnum {
  const values = block.lines
    .filter((line) => !line.startsWith('@@'))
    .map((line) => enumValueLine.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ name: match[1]!, dbName: mappedName(attributesOf(match[2] ?? ''), '@map') }));
  return { dbName: mappedName(blockAttributesOf(block), '@@map'), values };
}

function blockAttributesOf(block: Block): Attribute[] {
  return block.lines.filter((line) => line.startsWith('@@')).flatMap((line) => attributesOf(line));
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
    if (block.keyword === 'enum') enums[block.name] = enumOf(block);
  }
  const enumNames = new Set(Object.keys(enums));
  const withForeignKeys = !emulatedRelations.test(schema);
  const models: Record<string, PrismaModel> = {};
  for (const block of blocks) {
    if (block.keyword !== 'model' || block.lines.some((line) => line.startsWith('@@ignore'))) continue;
    const parsedFields = block.lines
      .filter((line) => !line.startsWith('@@'))
      .map((line) => parseField(line, enums, enumNames))
      .filter((parsed): parsed is ParsedField => parsed !== undefined);
    const blockAttributes = blockAttributesOf(block);
    models[block.name] = {
      dbName: mappedName(blockAttributes, '@@map'),
      fields: parsedFields.map((parsed) => parsed.field),
      indexes: indexesOf(parsedFields, blockAttributes),
      foreignKeys: withForeignKeys ? foreignKeysOf(parsedFields) : [],
    };
  }
  return { models, enums };
}

/**
 * What a generated Prisma 7 client knows about its models. Both properties are internal to
 * Prisma's runtime (not in the client's public type): `_runtimeDataModel` is pruned to names,
 * types and dbNames, and `_engineConfig.inlineSchema` is the schema text the client was generated
 * from, which carries optionality, lists and @db types.
 */
interface ClientInternals {
  _runtimeDataModel: PrismaDataModel;
  _engineConfig: { inlineSchema: string };
}

/** The models a generated client was built from: the runtime's pruned view and the full one. */
export function prismaClientModels(client: object): { runtime: PrismaDataModel; full: PrismaDataModel } {
  const internals = client as unknown as ClientInternals;
  return {
    runtime: internals._runtimeDataModel,
    full: prismaModelsFromSchema(internals._engineConfig.inlineSchema),
  };
}
