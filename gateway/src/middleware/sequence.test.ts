import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { describe, expect, test } from 'vitest';
import { inSequence } from './sequence.js';

/** Runs the sequence once and resolves with what reached Express's `next`, and the order seen. */
function run(handlers: (seen: string[]) => RequestHandler[]): Promise<{ error: unknown; seen: string[] }> {
  const seen: string[] = [];
  return new Promise((resolve) => {
    const done: NextFunction = (error?: unknown) => resolve({ error, seen });
    inSequence(handlers(seen))({} as Request, {} as Response, done);
  });
}

describe('when middleware runs in sequence as one layer', () => {
  test('then each runs in order, async ones included, and Express continues after the last', async () => {
    const outcome = await run((seen) => [
      (_req, _res, next) => {
        seen.push('a');
        next();
      },
      async (_req, _res, next) => {
        await Promise.resolve();
        seen.push('b');
        next();
      },
      (_req, _res, next) => {
        seen.push('c');
        next();
      },
    ]);
    expect(outcome).toEqual({ error: undefined, seen: ['a', 'b', 'c'] });
  });

  test.each([
    ['passed to next', (_req: Request, _res: Response, next: NextFunction) => next(new Error('refused'))],
    [
      'thrown',
      () => {
        throw new Error('refused');
      },
    ],
    ['a rejected promise', async () => Promise.reject(new Error('refused'))],
  ])('then an error %s skips the rest and goes to the error handlers', async (_how, failing) => {
    const outcome = await run((seen) => [
      failing as RequestHandler,
      (_req, _res, next) => {
        seen.push('after');
        next();
      },
    ]);
    expect(outcome.error).toMatchObject({ message: 'refused' });
    expect(outcome.seen).toEqual([]);
  });
});
