import { AppError } from '@zerostate/errors';
import { describe, expect, test } from 'vitest';
import { openApiDocument } from './openapi.js';
import { apiRoutes, jwksRoute } from './table.js';

const routes = apiRoutes({
  loginLimiter: (_req, _res, next) => next(),
  apiKeys: {
    resolve: async () => {
      throw new AppError('INVALID_API_KEY');
    },
    evict: () => undefined,
    evictUser: () => undefined,
  },
  revocations: {
    ready: async () => undefined,
    isReady: () => true,
    isRevoked: () => false,
    apply: () => undefined,
    stop: () => undefined,
  },
});
const document = openApiDocument([
  { prefix: '', specs: [jwksRoute] },
  { prefix: '/api/v1', specs: routes },
]) as { openapi: string; paths: Record<string, Record<string, Record<string, unknown>>> };

type Operation = {
  parameters?: { name: string; in: string; required?: boolean; schema?: Record<string, unknown> }[];
  requestBody?: {
    content: {
      'application/json': {
        schema: { properties: object; required: string[]; additionalProperties: boolean };
      };
    };
  };
  security: Record<string, string[]>[];
  responses: Record<string, { description: string }>;
};
const operation = (path: string, method: string) => document.paths[path]?.[method] as Operation;

describe('when the OpenAPI document is built from the route table', () => {
  test('then every route of the table appears under its method, with path parameters in braces', () => {
    expect(document.openapi).toBe('3.1.0');
    for (const route of routes) {
      const path = `/api/v1${route.path}`.replace(/:([A-Za-z_]+)/g, '{$1}');
      expect(operation(path, route.method), `${route.method} ${path}`).toBeDefined();
    }
    expect(operation('/.well-known/jwks.json', 'get')).toBeDefined();
  });

  test('then a body schema is the contract: required fields, no unknown fields', () => {
    const schema = operation('/api/v1/auth/register', 'post').requestBody!.content['application/json'].schema;
    expect(schema.required).toEqual(['email', 'password']);
    expect(schema.additionalProperties).toBe(false);
  });

  test('then a path parameter is not also asked for in the body', () => {
    const roles = operation('/api/v1/admin/users/{user_id}/roles', 'post');
    expect(roles.parameters).toEqual([expect.objectContaining({ name: 'user_id', in: 'path' })]);
    expect(Object.keys(roles.requestBody!.content['application/json'].schema.properties)).toEqual(['roles']);
  });

  test('then erasure documents its password body, and a DELETE without fields has none', () => {
    const erase = operation('/api/v1/users/me', 'delete');
    expect(erase.requestBody!.content['application/json'].schema.required).toEqual(['password']);
    expect(erase.responses['204']).toBeDefined();
    expect(erase.responses['409']!.description).toContain('ACCOUNT_NOT_EMPTY');
    expect(erase.security).toEqual([{ bearer: [] }]);
    expect(operation('/api/v1/api-keys/{id}', 'delete').requestBody).toBeUndefined();
  });

  test('then list routes document their query parameters', () => {
    const names = operation('/api/v1/api-keys', 'get').parameters!.map(
      (parameter) => `${parameter.in}:${parameter.name}`,
    );
    expect(names).toEqual(['query:limit', 'query:cursor']);
  });

  test('then security and errors follow the route: session-only routes take no API key, declared errors appear', () => {
    expect(operation('/api/v1/users/me', 'get').security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(operation('/api/v1/api-keys', 'post').security).toEqual([{ bearer: [] }]);
    expect(operation('/api/v1/auth/register', 'post').security).toEqual([]);
    expect(operation('/api/v1/auth/register', 'post').responses['409']!.description).toContain('EMAIL_TAKEN');
    expect(operation('/api/v1/api-keys', 'post').responses['403']!.description).toContain(
      'API_KEY_NOT_ALLOWED',
    );
    expect(operation('/api/v1/auth/logout', 'post').responses['204']).toBeDefined();
  });
});

describe('when a route is idempotent', () => {
  const idempotencyHeader = (path: string, method: string) =>
    operation(path, method).parameters?.find(
      (parameter) => parameter.in === 'header' && parameter.name === 'Idempotency-Key',
    );

  test('then its operation lists the optional Idempotency-Key header with the accepted format', () => {
    const idempotent = routes.filter((route) => route.idempotent);
    expect(idempotent.map((route) => `${route.method} ${route.path}`)).toEqual([
      'post /payments/deposit',
      'post /payments/withdraw',
      'post /payments/channels',
      'post /payments/channels/:id/pay',
      'post /payments/channels/:id/close',
      'post /auctions/:id/bids',
      'post /tasks/:id/rating',
      'post /tasks',
    ]);
    for (const route of idempotent) {
      const path = `/api/v1${route.path}`.replace(/:([A-Za-z_]+)/g, '{$1}');
      expect(idempotencyHeader(path, route.method), path).toMatchObject({
        required: false,
        schema: { type: 'string', minLength: 1, maxLength: 255 },
      });
    }
    const pattern = new RegExp(
      String(idempotencyHeader('/api/v1/payments/deposit', 'post')!.schema!.pattern),
    );
    expect(pattern.test('order-42')).toBe(true);
    expect(pattern.test('has a space')).toBe(false);
    expect(pattern.test('x'.repeat(256))).toBe(false);
  });

  test('then the header is not offered on routes that ignore it, and the idempotency conflicts are documented', () => {
    expect(idempotencyHeader('/api/v1/payments/balance', 'get')).toBeUndefined();
    expect(idempotencyHeader('/api/v1/auth/register', 'post')).toBeUndefined();
    const pay = operation('/api/v1/payments/channels/{id}/pay', 'post');
    expect(pay.parameters!.map((parameter) => `${parameter.in}:${parameter.name}`)).toEqual([
      'path:id',
      'header:Idempotency-Key',
    ]);
    expect(pay.responses['409']!.description).toContain('IDEMPOTENCY_KEY_REUSED');
    expect(pay.responses['409']!.description).toContain('STALE_SEQUENCE_NUMBER');
  });

  test('then payment admin routes take a session only and escrow endpoints are not routed', () => {
    expect(operation('/api/v1/admin/payments/reconciliation', 'get').security).toEqual([{ bearer: [] }]);
    expect(operation('/api/v1/admin/payments/statistics', 'get').security).toEqual([{ bearer: [] }]);
    const subjects = Object.values(document.paths).flatMap((methods) =>
      Object.values(methods).map((entry) => String(entry['x-nats-subject'])),
    );
    expect(subjects.filter((subject) => subject.includes('escrow'))).toEqual([]);
    expect(subjects).toContain('svc.payment.deposit');
  });
});

describe('when the reputation routes are documented', () => {
  test('then the reads are public, rating needs a caller, and the rating codes appear', () => {
    for (const path of [
      '/api/v1/reputation',
      '/api/v1/reputation/{agent_id}',
      '/api/v1/agents/{id}/performance',
    ]) {
      expect(operation(path, 'get').security, path).toEqual([{}, { bearer: [] }, { apiKey: [] }]);
    }
    const leaderboard = operation('/api/v1/reputation', 'get').parameters!.map(
      (parameter) => `${parameter.in}:${parameter.name}`,
    );
    expect(leaderboard).toEqual(expect.arrayContaining(['query:limit', 'query:cursor', 'query:capability']));
    const rate = operation('/api/v1/tasks/{id}/rating', 'post');
    expect(rate.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(rate.responses['201']).toBeDefined();
    expect(rate.responses['403']!.description).toContain('RATING_NOT_ALLOWED');
    expect(rate.responses['409']!.description).toContain('RATING_EXISTS');
    expect(rate.responses['404']!.description).toContain('NOT_FOUND');
    expect(Object.keys(rate.requestBody!.content['application/json'].schema.properties)).toEqual([
      'rating',
      'comment',
    ]);
  });
});
