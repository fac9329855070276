import { AppError, type ErrorCode } from '@zerostate/errors';
import type { Logger } from '@zerostate/observability';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { appErrorFromBodyParser } from './body.js';
import { requestIdOf } from './request-id.js';

export interface ErrorHandlerOptions {
  logger: Logger;
}

/**
 * Client errors that Express or its helpers raise as http-errors objects (for example a path
 * with malformed percent-encoding), keyed by their status. Everything else is INTERNAL.
 */
const codesByClientStatus: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  404: 'ROUTE_NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = 'status' in error ? error.status : 'statusCode' in error ? error.statusCode : undefined;
  return typeof status === 'number' ? status : undefined;
}

/** Maps anything thrown to an AppError; the original is kept as `cause` for the log only. */
export function toHttpAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const fromBodyParser = appErrorFromBodyParser(error);
  if (fromBodyParser !== null) return fromBodyParser;
  const status = statusOf(error);
  const code = status === undefined ? undefined : codesByClientStatus[status];
  return new AppError(code ?? 'INTERNAL', undefined, { cause: error });
}

function retryAfterSecondsOf(error: AppError): number | undefined {
  const details = error.details;
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return undefined;
  const seconds = details.retry_after_seconds;
  return typeof seconds === 'number' && Number.isFinite(seconds)
    ? Math.max(1, Math.ceil(seconds))
    : undefined;
}

/**
 * The one place that turns errors into HTTP responses:
 * `{error: {code, message, request_id, details?}}` with the status from the error catalog.
 * Server-side failures are logged with their cause and stack, and the client only ever sees the
 * catalog's generic message for INTERNAL, never a stack or an internal message.
 */
export function errorHandler(options: ErrorHandlerOptions): ErrorRequestHandler {
  return (error: unknown, request, response, next) => {
    if (response.headersSent) {
      // Too late for an error body: Express's final handler closes the connection instead.
      options.logger.error({ err: error }, 'error after the response started');
      next(error);
      return;
    }
    const appError = toHttpAppError(error);
    const status = appError.status;
    const logFields = { err: appError.cause ?? appError, code: appError.code, method: request.method };
    if (status >= 500) options.logger.error(logFields, 'request failed');
    else options.logger.debug(logFields, 'request refused');
    const body = appError.code === 'INTERNAL' ? new AppError('INTERNAL').toBody() : appError.toBody();
    const retryAfterSeconds = retryAfterSecondsOf(appError);
    if (retryAfterSeconds !== undefined) response.set('Retry-After', String(retryAfterSeconds));
    response.set('Cache-Control', 'no-store');
    response.status(status).json({ error: { ...body, request_id: requestIdOf(response) } });
  };
}

/** Mounted after every route: anything that reaches it matched nothing. */
export function notFound(): RequestHandler {
  return (_request, _response, next) => {
    next(new AppError('ROUTE_NOT_FOUND'));
  };
}
