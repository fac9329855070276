import { type ErrorCode, errorCatalog, isErrorCode } from './catalog.js';

/** Extra, client-safe facts about an error (for example which fields failed validation). */
export type ErrorDetails = Record<string, unknown> | unknown[];

/** The wire shape of an error, both in NATS replies and inside the HTTP error body. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: ErrorDetails;
}

/**
 * The one error class for operational errors. Its message and details are shown to clients, so
 * they must never carry internals; put those in `cause`, which is only logged.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message?: string, options?: { details?: ErrorDetails; cause?: unknown }) {
    super(message ?? errorCatalog[code].message, { cause: options?.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = options?.details;
  }

  get status(): number {
    return errorCatalog[this.code].status;
  }

  get retryable(): boolean {
    return errorCatalog[this.code].retryable;
  }

  toBody(): ErrorBody {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromBody(body: unknown): AppError {
    if (typeof body === 'object' && body !== null) {
      const { code, message, details } = body as Record<string, unknown>;
      if (isErrorCode(code)) {
        return new AppError(code, typeof message === 'string' ? message : undefined, {
          details: details as ErrorDetails | undefined,
        });
      }
    }
    return new AppError('INTERNAL');
  }
}

/** Turns anything thrown into an AppError; unknown errors become INTERNAL with a generic message. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError('INTERNAL', undefined, { cause: error });
}
