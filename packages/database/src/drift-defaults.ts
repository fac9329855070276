import type { PrismaColumnDefault, PrismaField } from './prisma-schema.js';

/** A live column's default: the SQL text `pg_get_expr` prints, and whether it is an identity column. */
export interface LiveDefault {
  expression: string | null;
  isIdentity: boolean;
}

/** One trailing `::type` cast, as `pg_get_expr` prints them (`'{}'::jsonb`, `'x'::"Status"`). */
const trailingCast =
  /::(?:"(?:[^"]|"")*"|[a-z_][a-z0-9_ ]*(?:\(\d+(?:,\s*\d+)?\))?(?: with(?:out)? time zone)?)(?:\[\])*$/i;
const currentTimestamp = /^(?:CURRENT_TIMESTAMP(?:\(\d\))?|now\(\))$/i;
const sequenceDefault = /^nextval\(/i;

/** Index of the bracket closing the one at `start`, skipping single-quoted SQL strings. */
function closingIndex(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let index = start; index < text.length; index += 1) {
    const character = text[index];
    if (character === "'") inString = !inString;
    else if (inString) continue;
    else if (character === '(' || character === '[') depth += 1;
    else if (character === ')' || character === ']') {
      depth -= 1;
      if (depth === 0) return index;
    }
  }
  return -1;
}

/** Splits a SQL list on commas outside strings and brackets. */
function splitSqlList(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index];
    if (character === "'") inString = !inString;
    else if (inString) continue;
    else if (character === '(' || character === '[') depth += 1;
    else if (character === ')' || character === ']') depth -= 1;
    else if (character === ',' && depth === 0) {
      items.push(text.slice(start, index));
      start = index + 1;
    }
  }
  items.push(text.slice(start));
  return items.map((item) => item.trim()).filter((item) => item.length > 0);
}

/** Strips casts and enclosing parentheses until the expression stops changing. */
function withoutCastsAndParentheses(expression: string): string {
  let text = expression.trim();
  for (;;) {
    let next = text.replace(trailingCast, '').trim();
    if (next.startsWith('(') && closingIndex(next, 0) === next.length - 1) next = next.slice(1, -1).trim();
    if (next === text) return text;
    text = next;
  }
}

/** The value a constant default expression stands for: a string, or a list for `ARRAY[...]`. */
export function liveDefaultValue(expression: string): string | string[] {
  const text = withoutCastsAndParentheses(expression);
  if (/^ARRAY\[/i.test(text) && text.endsWith(']')) {
    return splitSqlList(text.slice('ARRAY['.length, -1)).map((item) => String(liveDefaultValue(item)));
  }
  if (text.length >= 2 && text.startsWith("'") && text.endsWith("'")) {
    return text.slice(1, -1).replaceAll("''", "'");
  }
  return text;
}

/** JSON text with object keys sorted, so `jsonb`'s reordering does not count as a difference. */
function canonicalJson(text: string): string {
  const sortKeys = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>).sort(([left], [right]) =>
      left < right ? -1 : left > right ? 1 : 0,
    );
    return Object.fromEntries(entries.map(([key, item]) => [key, sortKeys(item)]));
  };
  try {
    return JSON.stringify(sortKeys(JSON.parse(text)));
  } catch {
    return text;
  }
}

function scalarMatches(expected: string, live: string, field: PrismaField): boolean {
  if (expected === live) return true;
  if (field.type === 'Json') return canonicalJson(expected) === canonicalJson(live);
  if (expected.trim() === '' || live.trim() === '') return false;
  const [expectedNumber, liveNumber] = [Number(expected), Number(live)];
  return Number.isFinite(expectedNumber) && expectedNumber === liveNumber;
}

function literalMatches(expected: string | readonly string[], live: string | string[], field: PrismaField) {
  if (typeof expected === 'string' || typeof live === 'string') {
    return typeof expected === 'string' && typeof live === 'string' && scalarMatches(expected, live, field);
  }
  return (
    expected.length === live.length &&
    expected.every((item, index) => scalarMatches(item, live[index]!, field))
  );
}

function matches(expected: PrismaColumnDefault, live: LiveDefault, field: PrismaField): boolean {
  const expression = live.expression;
  switch (expected.kind) {
    case 'none':
      return expression === null && !live.isIdentity;
    case 'autoincrement':
      return live.isIdentity || (expression !== null && sequenceDefault.test(expression));
    case 'now':
      return expression !== null && currentTimestamp.test(expression);
    case 'database':
      return expression !== null;
    case 'literal':
      return expression !== null && literalMatches(expected.value, liveDefaultValue(expression), field);
  }
}

function describeExpected(expected: PrismaColumnDefault, field: PrismaField): string {
  switch (expected.kind) {
    case 'none':
      return 'none';
    case 'now':
      return 'now()';
    case 'autoincrement':
      return 'autoincrement()';
    case 'database':
      return `a database default (${expected.description})`;
    case 'literal':
      if (typeof expected.value !== 'string') return `[${expected.value.join(', ')}]`;
      return field.type === 'Json' ? canonicalJson(expected.value) : expected.value;
  }
}

/** A line describing how the live default differs from the model's, or undefined when it does not. */
export function defaultDifference(
  qualified: string,
  field: PrismaField,
  live: LiveDefault,
): string | undefined {
  const expected = field.columnDefault;
  if (expected === undefined || matches(expected, live, field)) return undefined;
  const expectation = describeExpected(expected, field);
  if (live.isIdentity) return `column ${qualified} is an identity column, expected default ${expectation}`;
  if (live.expression === null) return `column ${qualified} has no default, expected ${expectation}`;
  return `column ${qualified} has default ${live.expression}, expected ${expectation}`;
}
