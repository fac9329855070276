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
  },
});
const document = openApiDocument([
  { prefix: '', specs: [jwksRoute] },
  { prefix: '/api/v1', specs: routes },
]) as { openapi: string; paths: Record<string, Record<string, Record<string, unknown>>> };

type Operation = {
  parameters?: { name: string; in: string }[];
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
