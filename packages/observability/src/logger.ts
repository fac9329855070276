import { isSpanContextValid, trace } from '@opentelemetry/api';
import { type Logger, pino } from 'pino';
import { currentRequestContext } from './context.js';

export type { Logger } from 'pino';

/**
 * Field names that must never reach a log. Pino replaces their values, at the top level and one
 * level down, so a logged request body or header bag cannot leak a secret.
 */
const secretFields = [
  'password',
  'current_password',
  'new_password',
  'access_token',
  'refresh_token',
  'token',
  'key',
  'authorization',
  'x-api-key',
  'cookie',
  'private_key',
];
const redactPaths = secretFields.flatMap((field) => [field, `*.${field}`, `*["${field}"]`]);

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read them back. */
  destination?: NodeJS.WritableStream;
}

/**
 * A pino JSON logger whose every line carries the service, the request id and user id of the
 * request being handled (null outside one) and the active trace id.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      messageKey: 'message',
      timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactPaths, censor: '[redacted]' },
      mixin() {
        const context = currentRequestContext();
        const spanContext = trace.getActiveSpan()?.spanContext();
        const traceId = spanContext && isSpanContextValid(spanContext) ? spanContext.traceId : null;
        return {
          request_id: context?.requestId ?? null,
          user_id: context?.userId ?? null,
          trace_id: traceId,
          ...(context?.action ? { action: context.action } : {}),
        };
      },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}
