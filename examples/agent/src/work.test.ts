import { describe, expect, it } from 'vitest';
import { perform, WorkRefused } from './work.js';

const all = ['uppercase', 'reverse', 'word-count'] as const;

describe('the work', () => {
  it('when asked for a transform it does, then it answers it, with or without the text. prefix', () => {
    expect(perform('uppercase', { text: 'héllo wörld' }, all)).toEqual({ text: 'HÉLLO WÖRLD' });
    expect(perform('text.reverse', { text: 'ab😀c' }, all)).toEqual({ text: 'c😀ba' });
    expect(perform('word-count', { text: '  one two\tthree\n' }, all)).toEqual({ words: 3 });
    expect(perform('word-count', { text: '' }, all)).toEqual({ words: 0 });
  });

  it('when the transform is not its own or the input is not {text}, then it refuses with a reason', () => {
    expect(() => perform('uppercase', { text: 'x' }, ['reverse'])).toThrow(WorkRefused);
    expect(() => perform('translate', { text: 'x' }, all)).toThrow('does not do "translate"');
    expect(() => perform('uppercase', { words: 'x' }, all)).toThrow('{"text": "<string>"}');
    expect(() => perform('uppercase', null, all)).toThrow(WorkRefused);
  });
});
