import { randomUUID } from 'node:crypto';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import { type Service, type ServiceMsg, Svcm } from '@nats-io/services';
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Endpoint, ParsedRequestOf, Principal, ResponseOf } from '@zerostate/contracts';
import { AppError, type ErrorCode, toAppError } from '@zerostate/errors';
import {
  type Counter,
  counter,
  extractTraceContext,
  histogram,
  isTracing,
  type Logger,
  type Registry,
  runWithRequestContext,
} from '@zerostate/observability';
import { decodeJson, encodeJson, type ReplyEnvelope } from './envelope.js';
import { type CallContext, carrierOf, decodeCallHeaders, idempotencyKeyPattern } from './headers.js';
import { PrincipalRejected, type PrincipalRejection, type PrincipalVerifier } from './principal-token.js';

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
 * Codes the adapter may answer on any endpoint, so contracts need not list them: a principal
 * whose signature does not hold (UNAUTHENTICATED), a service the contract does not list as a
 * caller (CALLER_NOT_ALLOWED), input it refuses (VALIDATION_FAILED, MALFORMED_JSON), a bug (INTERNAL), a dependency that is down or too
 * slow (SERVICE_UNAVAILABLE, UPSTREAM_TIMEOUT), and UNDECLARED_ERROR_CODE under strict contracts.
 * A handler's own refusals must be in its contract's `errors`.
 */
export const adapterErrorCodes = [
  'UNAUTHENTICATED',
  'CALLER_NOT_ALLOWED',
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
  /**
   * Checks the signed principal of every request (`createPrincipalVerifier` over the keys the
   * service trusts). A principal header that does not verify is refused with UNAUTHENTICATED and
   * counted in `nats_principal_rejected_total{subject,reason}`; the handler never runs.
   */
  verifier: PrincipalVerifier;
}

/** What the adapter enforces beyond the contract's schemas; built by `serveEndpoints`. */
export interface AdapterPolicy {
  /** See `ServeOptions.strictContracts`. */
  strictContracts: boolean;
  /** `nats_handler_undeclared_errors_total{endpoint,code}`; `endpoint` is the subject. */
  undeclaredErrors: Counter<string>;
  verifier: PrincipalVerifier;
  /** `nats_principal_rejected_total{subject,reason}`. */
  principalRejections: Counter<string>;
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
  const policy: AdapterPolicy = {
    strictContracts: options.strictContracts ?? false,
    undeclaredErrors: undeclaredErrorsCounter(options.registry),
    verifier: options.verifier,
    principalRejections: counter(
      options.registry,
      'nats_principal_rejected_total',
      'Requests refused because their principal was unsigned, forged, expired or bound elsewhere, by subject and reason.',
      ['subject', 'reason'],
    ),
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
 * catalog and the contract, reply exactly once, log one line. A principal is verified first
 * (see `ServeOptions.verifier`); one that fails is refused before anything else runs.
 */
export function createAdapter(
  registration: Registration,
  logger: Logger,
  duration: Duration,
  policy: AdapterPolicy,
) {
  const { endpoint: contract, handler } = registration;
  const declared = new Set<ErrorCode>([...contract.errors, ...adapterErrorCodes]);
  const answer = (error: AppError, handlerLogger: Logger): ReplyEnvelope => {
    if (declared.has(error.code)) return { ok: false, error: error.toBody() };
    return { ok: false, error: undeclared(contract, error, handlerLogger, policy).toBody() };
  };
  return async (message: ServiceMsg | Msg): Promise<void> => {
    const { principalToken, ...headers } = decodeCallHeaders(message.headers, randomUUID());
    const verified = verifiedPrincipal(principalToken, contract, message, headers.requestId, policy);
    const call: CallContext = { ...headers, principal: verified.principal };
    const started = performance.now();
    const requestContext = {
      requestId: call.requestId,
      userId: call.principal?.user_id,
      action: contract.name,
    };
    const handle = async (span?: Span) => {
      const envelope = verified.rejected
        ? refusePrincipal(contract, verified.rejected, logger, policy)
        : callerNotAllowed(contract, call.principal)
          ? refuseCaller(contract, call.principal!, logger, policy)
          : await run(contract, handler, message, { ...call, logger }, answer);
      const outcome = envelope.ok ? 'ok' : envelope.error.code;
      if (!envelope.ok) span?.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
      reply(message, envelope, logger);
      const elapsedMs = performance.now() - started;
      duration.observe({ subject: contract.subject, outcome }, elapsedMs / 1000);
      logger.info({ status: outcome, duration_ms: Math.round(elapsedMs * 100) / 100 }, 'handled');
      span?.end();
    };
    // Spans and trace contexts only when something records them or a caller sent a trace to
    // carry on (propagation-only mode); otherwise they would be no-op objects costing CPU.
    if (!isTracing() && !message.headers?.has('traceparent')) {
      await runWithRequestContext(requestContext, handle);
      return;
    }
    const parentContext = extractTraceContext(message.headers ? carrierOf(message.headers) : undefined);
    await runWithRequestContext(requestContext, () =>
      context.with(parentContext, () =>
        tracer.startActiveSpan(
          `nats handle ${contract.subject}`,
          {
            kind: SpanKind.SERVER,
            attributes: { 'messaging.system': 'nats', 'messaging.destination.name': contract.subject },
          },
          handle,
        ),
      ),
    );
  };
}

/** The verified principal of a request, or why it was refused; no header means no principal. */
function verifiedPrincipal(
  token: string | undefined,
  contract: Endpoint,
  message: Msg,
  requestId: string,
  policy: AdapterPolicy,
): { principal?: Principal; rejected?: PrincipalRejection } {
  if (token === undefined) return {};
  try {
    return {
      principal: policy.verifier.verify(token, { subject: contract.subject, requestId, body: message.data }),
    };
  } catch (error) {
    if (error instanceof PrincipalRejected) return { rejected: error.reason };
    throw error;
  }
}

function refusePrincipal(
  contract: Endpoint,
  reason: PrincipalRejection,
  logger: Logger,
  policy: AdapterPolicy,
): ReplyEnvelope {
  policy.principalRejections.inc({ subject: contract.subject, reason });
  logger.warn({ reason, subject: contract.subject }, 'principal refused; nothing ran');
  return { ok: false, error: new AppError('UNAUTHENTICATED').toBody() };
}

/** A service acting as itself may call only endpoints whose contract lists it. */
function callerNotAllowed(contract: Endpoint, principal: Principal | undefined): boolean {
  return principal?.kind === 'service' && !contract.callers.includes(principal.service!);
}

function refuseCaller(
  contract: Endpoint,
  principal: Principal,
  logger: Logger,
  policy: AdapterPolicy,
): ReplyEnvelope {
  policy.principalRejections.inc({ subject: contract.subject, reason: 'caller_not_allowed' });
  logger.warn(
    { caller: principal.service, subject: contract.subject },
    'service may not call this endpoint; nothing ran',
  );
  return { ok: false, error: new AppError('CALLER_NOT_ALLOWED').toBody() };
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
function undeclared(contract: Endpoint, error: AppError, logger: Logger, policy: AdapterPolicy): AppError {
  policy.undeclaredErrors.inc({ endpoint: contract.subject, code: error.code });
  logger.error(
    { err: error, code: error.code, endpoint: contract.subject },
    'handler answered an error code its contract does not declare',
  );
  if (!policy.strictContracts) return new AppError('INTERNAL', undefined, { cause: error });
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
