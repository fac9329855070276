import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Runs middleware one after the other as one Express layer, the way Express would run them as
 * separate layers: an error passed to `next` (or thrown, or a rejected promise) skips the rest
 * and goes to Express's error handlers; a handler that answers and does not call `next` ends the
 * request. Each separate layer costs a router dispatch (path match, URL parse) per request; the
 * gateway's pre-route chain is ten of them.
 */
export function inSequence(handlers: RequestHandler[]): RequestHandler {
  return (request: Request, response: Response, done: NextFunction) => {
    let index = 0;
    const next = (error?: unknown) => {
      if (error !== undefined && error !== null) return done(error);
      const handler = handlers[index++];
      if (!handler) return done();
      try {
        const result: unknown = handler(request, response, next);
        if (result instanceof Promise)
          result.then(undefined, (caught) => done(caught ?? new Error('Rejected promise')));
      } catch (caught) {
        done(caught);
      }
    };
    next();
  };
}
