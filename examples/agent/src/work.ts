/**
 * The work this agent can do: text transforms on `{text}`. A task's `type` names the transform
 * (`uppercase`, `reverse`, `word-count`, optionally prefixed `text.`).
 */
export const transforms = {
  uppercase: (text: string) => ({ text: text.toUpperCase() }),
  // By code point, so a letter outside the BMP stays whole.
  reverse: (text: string) => ({ text: [...text].reverse().join('') }),
  'word-count': (text: string) => ({ words: text.split(/\s+/u).filter((word) => word.length > 0).length }),
} as const;

export type TransformName = keyof typeof transforms;

/** The capability strings an agent doing these transforms registers with. */
export const capabilitiesOf = (names: readonly TransformName[]) => names.map((name) => `text.${name}`);

export class WorkRefused extends Error {}

/** Runs one task's work, or throws `WorkRefused` with a reason the requester will read. */
export function perform(
  type: string,
  input: unknown,
  canDo: readonly TransformName[],
): Record<string, unknown> {
  const name = type.replace(/^text\./, '') as TransformName;
  if (!canDo.includes(name) || !(name in transforms))
    throw new WorkRefused(`this agent does not do "${type}"`);
  const text = (input as { text?: unknown } | null)?.text;
  if (typeof text !== 'string') throw new WorkRefused('the input must be {"text": "<string>"}');
  return transforms[name](text);
}
