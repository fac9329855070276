/**
 * A value in a Prisma attribute's arguments: a string literal, a bare word (number, boolean,
 * enum value, referential action, field name), a function call such as `now()` or
 * `id(sort: Desc)`, or a list.
 */
export type AttributeValue =
  | { kind: 'string'; value: string }
  | { kind: 'word'; text: string }
  | { kind: 'call'; name: string; args: readonly AttributeArgument[] }
  | { kind: 'list'; items: readonly AttributeValue[] };

export interface AttributeArgument {
  /** The argument's name (`fields`, `onDelete`, `map`); absent for a positional argument. */
  name?: string;
  value: AttributeValue;
}

export interface Attribute {
  /** With its `@` or `@@`: `@default`, `@db.VarChar`, `@@index`. */
  name: string;
  args: readonly AttributeArgument[];
}

const openers: Record<string, string> = { '(': ')', '[': ']' };

/** Index of the bracket closing the one at `start`, skipping string literals and nested brackets. */
function closingIndex(text: string, start: number): number {
  const stack: string[] = [];
  let inString = false;
  for (let index = start; index < text.length; index += 1) {
    const character = text[index]!;
    if (inString) {
      if (character === '\\') index += 1;
      else if (character === '"') inString = false;
    } else if (character === '"') inString = true;
    else if (openers[character] !== undefined) stack.push(openers[character]);
    else if (character === stack.at(-1)) {
      stack.pop();
      if (stack.length === 0) return index;
    }
  }
  return text.length;
}

/** Splits on commas that are outside string literals and brackets. */
function splitTopLevel(text: string): string[] {
  const pieces: string[] = [];
  let start = 0;
  let inString = false;
  let depth = 0;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index]!;
    if (inString) {
      if (character === '\\') index += 1;
      else if (character === '"') inString = false;
    } else if (character === '"') inString = true;
    else if (character === '(' || character === '[') depth += 1;
    else if (character === ')' || character === ']') depth -= 1;
    else if (character === ',' && depth === 0) {
      pieces.push(text.slice(start, index));
      start = index + 1;
    }
  }
  pieces.push(text.slice(start));
  return pieces.map((piece) => piece.trim()).filter((piece) => piece.length > 0);
}

/** Undoes the escapes of a Prisma string literal (`\"`, `\\`, `\n`, ...). */
function unescapeString(body: string): string {
  const named: Record<string, string> = { n: '\n', t: '\t', r: '\r' };
  return body.replace(/\\(.)/g, (_escape, character: string) => named[character] ?? character);
}

function parseValue(text: string): AttributeValue {
  const trimmed = text.trim();
  if (trimmed.startsWith('"')) return { kind: 'string', value: unescapeString(trimmed.slice(1, -1)) };
  if (trimmed.startsWith('[')) {
    return { kind: 'list', items: splitTopLevel(trimmed.slice(1, -1)).map(parseValue) };
  }
  const call = /^([\w.]+)\s*\(([\s\S]*)\)$/.exec(trimmed);
  if (call) return { kind: 'call', name: call[1]!, args: parseArguments(call[2]!) };
  return { kind: 'word', text: trimmed };
}

/** Parses the text between an attribute's parentheses. */
export function parseArguments(text: string): AttributeArgument[] {
  return splitTopLevel(text).map((piece) => {
    const named = /^(\w+)\s*:\s*([\s\S]+)$/.exec(piece);
    return named ? { name: named[1]!, value: parseValue(named[2]!) } : { value: parseValue(piece) };
  });
}

/**
 * Reads the attributes of a field (the text after its type) or of a block attribute line
 * (`@@index([a, b], type: Gin)`), arguments included.
 */
export function attributesOf(text: string): Attribute[] {
  const attributes: Attribute[] = [];
  let index = 0;
  while (index < text.length) {
    const name = /^@@?[\w.]+/.exec(text.slice(index));
    if (!name) {
      index += 1;
      continue;
    }
    index += name[0].length;
    const opening = /^\s*\(/.exec(text.slice(index));
    if (!opening) {
      attributes.push({ name: name[0], args: [] });
      continue;
    }
    const start = index + opening[0].length - 1;
    const end = closingIndex(text, start);
    attributes.push({ name: name[0], args: parseArguments(text.slice(start + 1, end)) });
    index = end + 1;
  }
  return attributes;
}

/** The named argument, or else the positional one at `position`. */
export function argumentOf(
  attribute: Attribute,
  name: string,
  position?: number,
): AttributeValue | undefined {
  const named = attribute.args.find((argument) => argument.name === name);
  if (named) return named.value;
  if (position === undefined) return undefined;
  return attribute.args.filter((argument) => argument.name === undefined)[position]?.value;
}

/** A list of field references (`[a, b(sort: Desc)]`) as field names. */
export function fieldNamesOf(value: AttributeValue | undefined): string[] {
  if (value?.kind !== 'list') return [];
  return value.items.map((item) =>
    item.kind === 'call' ? item.name : item.kind === 'word' ? item.text : '',
  );
}

/** A string literal's value or a bare word's text. */
export function textOf(value: AttributeValue | undefined): string | undefined {
  if (value?.kind === 'string') return value.value;
  if (value?.kind === 'word') return value.text;
  return undefined;
}
