import {
  type CallContext,
  idempotencyKeyPattern,
  issuesOf,
  type NatsConnection,
  type PrincipalSigner,
  request,
} from '@zerostate/bus';
import type { Endpoint } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import type { Histogram } from '@zerostate/observability';
import type { Request, RequestHandler, Response } from 'express';
import { callContextOf, callerOf, checkAccess, type RouteAccess } from '../auth/identify.js';

/** One HTTP route bound to one NATS contract. */
export interface RouteSpec extends RouteAccess {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Express path relative to the mount point, e.g. `/api-keys/:id`. */
  path: string;
  endpoint: Endpoint;
  /** 200 unless given; 204 sends no body. */
  status?: 200 | 201 | 202 | 204;
  /** Extra middleware for this route only (for example the login limiter). */
  before?: RequestHandler[];
  /** Runs after a successful call (for example evicting a revoked key from a cache). */
  // biome-ignore lint/suspicious/noExplicitAny: the output's type is the route's endpoint's response.
  after?: (input: Record<string, unknown>, output: any, req: Request, res: Response) => void;
  /** Response headers, e.g. caching of the JWKS. */
  headers?: Record<string, string>;
  /**
   * The route moves money or creates something a retry could duplicate: the client's
   * `Idempotency-Key` header is checked here and forwarded to the service, which replays the first
   * answer. Other routes ignore the header.
   */
  idempotent?: true;
  /** A larger JSON body than the gateway's default (BODY_LIMIT_BYTES) for this route only. */
  bodyLimitBytes?: number;
  /**
   * Answered as server-sent events (`event-stream.ts`): the endpoint's answer now and again at
   * every change the service announces, instead of one JSON answer.
   */
  eventStream?: true;
}

/** The HTTP header a client names its retry-safe request with (Stripe's and the IETF draft's). */
export const idempotencyKeyHeader = 'Idempotency-Key';

type Issue = ReturnType<typeof issuesOf>[number];

/**
 * The one way an HTTP request becomes a NATS call: check access, gather input from path,
 * query and body, validate it against the contract and, on idempotent routes, the
 * `Idempotency-Key` header (one 400 listing every problem), call the service with the caller's
 * context, and answer with the route's status.
 */
export function routeHandler(
  spec: RouteSpec,
  nc: NatsConnection,
  latency: Histogram<string>,
  signer: PrincipalSigner,
): RequestHandler {
  return async (req, res) => {
    checkAccess(spec, callerOf(res).principal);
    const key = spec.idempotent ? idempotencyKeyOf(req) : { issues: [] };
    const input = inputOf(spec, req);
    const parsed = spec.endpoint.request.safeParse(input);
    const issues = [...key.issues, ...(parsed.success ? [] : issuesOf(parsed.error.issues))];
    if (!parsed.success || issues.length > 0) {
      throw new AppError('VALIDATION_FAILED', undefined, { details: issues });
    }
    const context: CallContext = {
      ...callContextOf(req, res),
      ...(key.value ? { idempotencyKey: key.value } : {}),
    };
    // The service parsed its reply against this contract, so it is sent on as it came (see
    // `validateReply`); a route whose `after` hook acts on the reply (a revocation) checks it again.
    const output = await request(nc, spec.endpoint, parsed.data, context, {
      latency,
      signer,
      validateReply: spec.after !== undefined,
    });
    spec.after?.(input, output, req, res);
    for (const [name, value] of Object.entries(spec.headers ?? {})) res.set(name, value);
    if (spec.status === 204) {
      res.status(204).end();
      return;
    }
    res.status(spec.status ?? 200).json(output);
  };
}

function inputOf(spec: RouteSpec, req: Request): Record<string, unknown> {
  const fromBody = spec.method === 'get' ? undefined : req.body;
  if (
    fromBody !== undefined &&
    (typeof fromBody !== 'object' || fromBody === null || Array.isArray(fromBody))
  ) {
    throw new AppError('VALIDATION_FAILED', 'The request body must be a JSON object.');
  }
  const fromQuery = spec.method === 'get' ? (req.query as Record<string, unknown>) : {};
  return { ...fromQuery, ...(fromBody ?? {}), ...req.params };
}

/**
 * The `Idempotency-Key` header, if the client sent one: absent is fine (no replay protection),
 * present but malformed is refused before the service is called. The key itself is never echoed.
 */
function idempotencyKeyOf(req: Request): { value?: string; issues: Issue[] } {
  const value = req.get(idempotencyKeyHeader);
  if (value === undefined) return { issues: [] };
  if (idempotencyKeyPattern.test(value)) return { value, issues: [] };
  return {
    issues: [
      {
        path: idempotencyKeyHeader,
        code: 'invalid_format',
        message: 'The Idempotency-Key header must be 1 to 255 visible ASCII characters (no spaces).',
      },
    ],
  };
}
