import { randomUUID } from 'node:crypto';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import { type Service, type ServiceMsg, Svcm } from '@nats-io/services';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Endpoint, ParsedRequestOf, ResponseOf } from '@zerostate/contracts';
import { AppError, type ErrorCode, toAppError } from '@zerostate/errors';
import {
  type Counter,
  counter,
  extractTraceContext,
  histogram,
  type Logger,
  type Registry,
  runWithRequestContext,
} from '@zerostate/observability';
import { decodeJson, encodeJson, type ReplyEnvelope } from './envelope.js';
import { type CallContext, carrierOf, decodeCallHeaders, idempotencyKeyPattern } from './headers.js';

const tracer = trace.getTracer('@zerostate/bus');

/** What a handler gets besides its validated input. */
export interface HandlerContext extends CallContext {
  logger: Logger;
}

export type Handler<E extends Endpoint> = (
  input: ParsedRequestOf<E>,
  context: HandlerContext,
) => Promise<ResponseOf<E>>;

export interface Registration {
  endpoint: Endpoint;
  handler: Handler<Endpoint>;
}

/** Binds a handler to its contract; the types make a handler answer what the contract says. */
export function endpoint<E extends Endpoint>(contract: E, handler: Handler<E>): Registration {
  return { endpoint: contract, handler: handler as unknown as Handler<Endpoint> };
}

/**
 * Codes the adapter may answer on any endpoint, so contracts need not list them: input it
 * refuses (VALIDATION_FAILED, MALFORMED_JSON), a bug (INTERNAL), a dependency that is down or too
 * slow (SERVICE_UNAVAILABLE, UPSTREAM_TIMEOUT), and UNDECLARED_ERROR_CODE under strict contracts.
 * A handler's own refusals must be in its contract's `errors`.
 */
export const adapterErrorCodes = [
  'VALIDATION_FAILED',
  'MALFORMED_JSON',
  'INTERNAL',
  'SERVICE_UNAVAILABLE',
  'UPSTREAM_TIMEOUT',
  'UNDECLARED_ERROR_CODE',
] as const satisfies readonly ErrorCode[];

export interface ServeOptions {
  name: string;
  version: string;
  description?: string;
  registrations: Registration[];
  logger: Logger;
  registry: Registry;
  /**
   * What happens when a handler throws an AppError whose code its contract does not list (and
   * that is not one of `adapterErrorCodes`). Always: `nats_handler_undeclared_errors_total
   * {endpoint,code}` goes up and an error is logged. Then, by default, the caller gets a generic
   * INTERNAL, so clients never see a code the contract does not promise; with `strictContracts`
   * (tests: the service kit sets it when NODE_ENV=test) the caller gets UNDECLARED_ERROR_CODE
   * naming the code and the endpoint, so the test that made the call fails and says why.
   */
  strictContracts?: boolean;
}

/** How the adapter treats codes a contract does not declare; see `ServeOptions.strictContracts`. */
export interface ContractPolicy {
  strictContracts: boolean;
  /** `nats_handler_undeclared_errors_total{endpoint,code}`; `endpoint` is the subject. */
  undeclaredErrors: Counter<string>;
}

/**
 * Registers the service as a NATS micro service (it answers `$SRV.PING`, `$SRV.INFO`,
 * `$SRV.STATS`) with every endpoint in the service's queue group, so replicas share the load.
 */
export async function serveEndpoints(nc: NatsConnection, options: ServeOptions): Promise<Service> {
  const service = await new Svcm(nc).add({
    name: options.name,
    version: options.version,
    description: options.description ?? options.name,
    queue: options.name,
  });
  const duration = histogram(
    options.registry,
    'nats_handler_duration_seconds',
    'Time to handle one NATS request, by subject and outcome.',
    ['subject', 'outcome'],
  );
  const policy: ContractPolicy = {
    strictContracts: options.strictContracts ?? false,
    undeclaredErrors: undeclaredErrorsCounter(options.registry),
  };
  for (const registration of options.registrations) {
    const adapter = createAdapter(registration, options.logger, duration, policy);
    service.addEndpoint(registration.endpoint.name.replaceAll('.', '_'), {
      subject: registration.endpoint.subject,
      // The client does not await handlers; the adapter catches everything and replies once.
      handler: (_error, message) => {
        void adapter(message);
      },
    });
  }
  return service;
}

type Duration = ReturnType<typeof histogram>;

export function undeclaredErrorsCounter(registry: Registry): Counter<string> {
  return counter(
    registry,
    'nats_handler_undeclared_errors_total',
    'Errors a handler threw with a code its contract does not declare, by endpoint subject and code.',
    ['endpoint', 'code'],
  );
}

/**
 * The one handler adapter: decode and validate, restore trace context, request id and
 * principal, open a span and a child logger, await the handler, map errors through the
 * catalog and the contract, reply exactly once, log one line. Without a `policy`, undeclared
 * codes become INTERNAL and are logged but not counted.
 */
export function createAdapter(
  registration: Registration,
  logger: Logger,
  duration: Duration,
  policy?: ContractPolicy,
) {
  const { endpoint: contract, handler } = registration;
  const declared = new Set<ErrorCode>([...contract.errors, ...adapterErrorCodes]);
  const answer = (error: AppError, handlerLogger: Logger): ReplyEnvelope => {
    if (declared.has(error.code)) return { ok: false, error: error.toBody() };
    return { ok: false, error: undeclared(contract, error, handlerLogger, policy).toBody() };
  };
  return async (message: ServiceMsg | Msg): Promise<void> => {
    const call = decodeCallHeaders(message.headers, randomUUID());
    const parentContext = extractTraceContext(message.headers ? carrierOf(message.headers) : undefined);
    const started = performance.now();
    const requestContext = {
      requestId: call.requestId,
      userId: call.principal?.user_id,
      action: contract.name,
    };
    await runWithRequestContext(requestContext, () =>
      context.with(parentContext, () =>
        tracer.startActiveSpan(
          `nats handle ${contract.subject}`,
          {
            kind: SpanKind.SERVER,
            attributes: { 'messaging.system': 'nats', 'messaging.destination.name': contract.subject },
          },
          async (span) => {
            const child = logger.child({});
            const envelope = await run(contract, handler, message, { ...call, logger: child }, answer);
            const outcome = envelope.ok ? 'ok' : envelope.error.code;
            if (!envelope.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
            reply(message, envelope, child);
            const elapsedMs = performance.now() - started;
            duration.observe({ subject: contract.subject, outcome }, elapsedMs / 1000);
            child.info({ status: outcome, duration_ms: Math.round(elapsedMs * 100) / 100 }, 'handled');
            span.end();
          },
        ),
      ),
    );
  };
}

async function run(
  contract: Endpoint,
  handler: Handler<Endpoint>,
  message: Msg,
  handlerContext: HandlerContext,
  answer: (error: AppError, logger: Logger) => ReplyEnvelope,
): Promise<ReplyEnvelope> {
  let decoded: unknown;
  try {
    decoded = decodeJson(message.data);
  } catch {
    return { ok: false, error: new AppError('MALFORMED_JSON').toBody() };
  }
  try {
    // A malformed key is refused, not dropped: running without it would lose the caller's
    // exactly-once guarantee without telling them.
    if (
      handlerContext.idempotencyKey !== undefined &&
      !idempotencyKeyPattern.test(handlerContext.idempotencyKey)
    ) {
      throw new AppError('VALIDATION_FAILED', 'The Idempotency-Key is not valid.', {
        details: [
          {
            path: 'Idempotency-Key',
            code: 'invalid_format',
            message: 'must be 1 to 255 visible ASCII characters',
          },
        ],
      });
    }
    const input = contract.request.safeParse(decoded);
    if (!input.success) {
      throw new AppError('VALIDATION_FAILED', undefined, { details: issuesOf(input.error.issues) });
    }
    const output = await handler(input.data, handlerContext);
    return { ok: true, data: contract.response.parse(output) };
  } catch (caught) {
    // Anything but an AppError is a bug here (a SyntaxError from handler code included): INTERNAL.
    const error = toAppError(caught);
    if (error.code === 'INTERNAL') handlerContext.logger.error({ err: caught }, 'handler failed');
    return answer(error, handlerContext.logger);
  }
}

/**
 * A handler answered a code its contract does not promise: a contract that is out of date, or a
 * refusal that slipped through from a layer below (a Prisma NOT_FOUND, say). Counted and logged
 * always; the caller gets INTERNAL, or UNDECLARED_ERROR_CODE under strict contracts.
 */
function undeclared(
  contract: Endpoint,
  error: AppError,
  logger: Logger,
  policy: ContractPolicy | undefined,
): AppError {
  policy?.undeclaredErrors.inc({ endpoint: contract.subject, code: error.code });
  logger.error(
    { err: error, code: error.code, endpoint: contract.subject },
    'handler answered an error code its contract does not declare',
  );
  if (!policy?.strictContracts) return new AppError('INTERNAL', undefined, { cause: error });
  return new AppError(
    'UNDECLARED_ERROR_CODE',
    `${contract.subject} answered ${error.code}, which its contract does not declare.`,
    { details: { endpoint: contract.subject, code: error.code } },
  );
}

/** Client-safe validation details: where and what, never the rejected value. */
export function issuesOf(issues: readonly { path: PropertyKey[]; message: string; code: string }[]) {
  return issues.slice(0, 20).map((issue) => ({
    path: issue.path.map(String).join('.'),
    code: issue.code,
    message: issue.message,
  }));
}

function reply(message: Msg, envelope: ReplyEnvelope, logger: Logger): void {
  if (!message.reply) return;
  try {
    message.respond(encodeJson(envelope));
  } catch (error) {
    logger.warn({ err: error }, 'reply could not be sent');
  }
}
