import { idempotencyKeyPattern } from '@zerostate/bus';
import { type ErrorCode, errorCatalog } from '@zerostate/errors';
import { z } from 'zod';
import { idempotencyKeyHeader, type RouteSpec } from './route.js';

/** Routes mounted under one prefix (`''` for the root, `/api/v1` for the API). */
export interface RouteGroup {
  prefix: string;
  specs: RouteSpec[];
}

type JsonSchema = Record<string, unknown> & { properties?: Record<string, unknown>; required?: string[] };

/**
 * The OpenAPI 3.1 document of the HTTP API, built from the same route table and zod contracts the
 * gateway validates with, so it cannot drift from behaviour. Served at `/openapi.json`.
 */
export function openApiDocument(groups: RouteGroup[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const group of groups) {
    for (const spec of group.specs) {
      const path = `${group.prefix}${spec.path}`.replace(/:([A-Za-z_]+)/g, '{$1}');
      paths[path] = { ...paths[path], [spec.method]: operationOf(spec) };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ZeroState API',
      version: '1',
      description: 'Generated from the gateway route table and the NATS contracts. Errors: docs/API.md.',
    },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (or an API key zs_…)' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message', 'request_id'],
              properties: {
                code: { type: 'string', enum: Object.keys(errorCatalog) },
                message: { type: 'string' },
                request_id: { type: 'string' },
                details: {},
              },
            },
          },
        },
      },
    },
  };
}

function operationOf(spec: RouteSpec): Record<string, unknown> {
  const request = schemaOf(spec.endpoint.request, 'input');
  const pathNames = [...spec.path.matchAll(/:([A-Za-z_]+)/g)].map((match) => match[1]!);
  const parameters = [
    ...pathNames.map((name) => ({
      name,
      in: 'path',
      required: true,
      schema: request.properties?.[name] ?? {},
    })),
    ...(spec.method === 'get' ? queryParameters(request, pathNames) : []),
    ...(spec.idempotent ? [idempotencyKeyParameter] : []),
  ];
  const body = without(request, pathNames);
  // A DELETE has a body only where its contract asks for fields (erasure confirms with a password).
  const hasBody =
    spec.method === 'post' ||
    spec.method === 'patch' ||
    (spec.method === 'delete' && Object.keys(body.properties ?? {}).length > 0);
  const status = String(spec.status ?? 200);
  return {
    operationId:
      spec.endpoint.name.replace(/[.-](\w)/g, (_match, letter: string) => letter.toUpperCase()) +
      (spec.eventStream ? 'Events' : ''),
    'x-nats-subject': spec.endpoint.subject,
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(hasBody ? { requestBody: { required: true, content: jsonOf(body) } } : {}),
    security: securityOf(spec),
    responses: {
      [status]:
        status === '204'
          ? { description: 'Done; no body.' }
          : spec.eventStream
            ? {
                description:
                  'Server-sent events: one `status` event whose data is this JSON now and at every change; closed after a terminal status.',
                content: { 'text/event-stream': { schema: schemaOf(spec.endpoint.response, 'output') } },
              }
            : { description: 'Success.', content: jsonOf(schemaOf(spec.endpoint.response, 'output')) },
      ...errorResponses(errorsOf(spec, hasBody)),
    },
  };
}

/** Optional on every idempotent operation; the gateway answers 400 VALIDATION_FAILED when malformed. */
const idempotencyKeyParameter = {
  name: idempotencyKeyHeader,
  in: 'header',
  required: false,
  description:
    'Makes a retry safe: the same key with the same body replays the first answer for at least 24 hours; ' +
    'the same key with a different body is 409 IDEMPOTENCY_KEY_REUSED; while the first request is still ' +
    'running, 409 IDEMPOTENCY_REQUEST_IN_PROGRESS. Keys are scoped to the caller.',
  schema: { type: 'string', minLength: 1, maxLength: 255, pattern: idempotencyKeyPattern.source },
};

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function without(schema: JsonSchema, names: string[]): JsonSchema {
  if (names.length === 0 || !schema.properties) return schema;
  const properties = Object.fromEntries(
    Object.entries(schema.properties).filter(([key]) => !names.includes(key)),
  );
  const required = (schema.required ?? []).filter((key) => !names.includes(key));
  return { ...schema, properties, required };
}

function queryParameters(schema: JsonSchema, pathNames: string[]) {
  return Object.entries(schema.properties ?? {})
    .filter(([name]) => !pathNames.includes(name))
    .map(([name, property]) => ({
      name,
      in: 'query',
      required: (schema.required ?? []).includes(name) && !(property as JsonSchema).default,
      schema: property,
    }));
}

function jsonOf(schema: JsonSchema) {
  return { 'application/json': { schema } };
}

function securityOf(spec: RouteSpec): Record<string, string[]>[] {
  if (spec.auth === 'none') return [];
  const bearer: Record<string, string[]> = { bearer: [] };
  const apiKey: Record<string, string[]> = { apiKey: [] };
  const schemes = spec.sessionOnly ? [bearer] : [bearer, apiKey];
  return spec.auth === 'optional' ? [{}, ...schemes] : schemes;
}

/** The service's declared errors plus what the gateway itself may answer on this route. */
function errorsOf(spec: RouteSpec, hasBody: boolean): ErrorCode[] {
  const codes = new Set<ErrorCode>([
    ...spec.endpoint.errors,
    'VALIDATION_FAILED',
    'RATE_LIMITED',
    'INTERNAL',
  ]);
  for (const code of ['SERVICE_UNAVAILABLE', 'UPSTREAM_TIMEOUT'] as const) codes.add(code);
  if (hasBody)
    for (const code of ['MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'] as const)
      codes.add(code);
  if (spec.auth !== 'none') for (const code of ['INVALID_TOKEN', 'INVALID_API_KEY'] as const) codes.add(code);
  if (spec.auth === 'required') codes.add('UNAUTHENTICATED');
  if (spec.scope) codes.add('INSUFFICIENT_SCOPE');
  if (spec.sessionOnly) codes.add('API_KEY_NOT_ALLOWED');
  if (spec.role) codes.add('FORBIDDEN');
  return [...codes];
}

function errorResponses(codes: ErrorCode[]): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = errorCatalog[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([left], [right]) => left - right)
      .map(([status, list]) => [
        String(status),
        {
          description: list.join(', '),
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      ]),
  );
}
