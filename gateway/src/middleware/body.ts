import { AppError, type ErrorCode } from '@zerostate/errors';
import express, { type Request, type RequestHandler } from 'express';

export interface JsonBodyOptions {
  /** The largest accepted body in bytes, measured after any Content-Encoding is undone. */
  limitBytes: number;
}

const methodsWithJsonBody = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

/**
 * The `type` values body-parser (and raw-body under it) put on their errors, mapped to catalog
 * codes. Anything else body-parser can throw is a reading failure and is reported as malformed.
 */
const bodyParserErrorCodes: Record<string, ErrorCode> = {
  'entity.too.large': 'PAYLOAD_TOO_LARGE',
  'entity.parse.failed': 'MALFORMED_JSON',
  'entity.verify.failed': 'MALFORMED_JSON',
  'request.aborted': 'MALFORMED_JSON',
  'request.size.invalid': 'MALFORMED_JSON',
  'charset.unsupported': 'UNSUPPORTED_MEDIA_TYPE',
  'encoding.unsupported': 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * Converts an error raised by body-parser into the matching AppError, or returns null when the
 * error did not come from body-parser. The original error is kept as `cause` (logged only).
 */
export function appErrorFromBodyParser(error: unknown): AppError | null {
  if (typeof error !== 'object' || error === null || !('type' in error)) return null;
  const type = error.type;
  if (typeof type !== 'string') return null;
  const code = bodyParserErrorCodes[type];
  if (code === undefined) return null;
  // The parser's error carries the raw body (`body`) and, on Node 20, a snippet of it in the
  // message; either can hold a password. Only the parser's type and status reach the log.
  const status = 'status' in error ? error.status : undefined;
  return new AppError(code, undefined, { cause: { type, status } });
}

/** True when the request announces a body of at least one byte (or a chunked one). */
function hasNonEmptyBody(request: Request): boolean {
  if (request.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(request.headers['content-length'] ?? '0');
  return Number.isFinite(length) && length > 0;
}

/**
 * Parses JSON bodies (objects and arrays only: `strict`) up to `limitBytes`, and refuses a
 * non-empty POST/PATCH/PUT/DELETE body that is not declared `application/json`, so nothing downstream
 * ever sees an unparsed body. Parser failures become stable AppError codes.
 */
export function jsonBody(options: JsonBodyOptions): RequestHandler {
  const parser = express.json({
    limit: options.limitBytes,
    strict: true,
    inflate: true,
    type: 'application/json',
  });
  return (request, response, next) => {
    if (methodsWithJsonBody.has(request.method) && hasNonEmptyBody(request)) {
      if (!request.is('application/json')) {
        next(new AppError('UNSUPPORTED_MEDIA_TYPE'));
        return;
      }
    }
    // raw-body (under express.json) binds its callback to the caller's async context, so the
    // request context survives parsing; a test guards that.
    parser(request, response, (error?: unknown) => {
      if (error === undefined || error === null) next();
      else next(appErrorFromBodyParser(error) ?? error);
    });
  };
}
