import { z } from 'zod';
import { emptyRequest, emptyResponse, pageOf, pageRequest, timestamp, uuid } from './common.js';
import { defineEndpoint, defineEvent } from './endpoint.js';
import { accountExportSchema } from './payment.js';
import { principalSchema, roleSchema, scopeSchema } from './principal.js';

/**
 * Password rule: at least 12 characters, at most 72 bytes of UTF-8 (bcrypt ignores anything past
 * 72 bytes, so a longer password would silently be cut). Enforced on register and change.
 */
export const passwordMinLength = 12;
export const passwordMaxBytes = 72;
const password = z.string().max(200);
const email = z.email().max(254);

export const userSchema = z.object({
  id: uuid,
  email: z.string(),
  name: z.string().nullable(),
  did: z.string(),
  roles: z.array(roleSchema),
  is_active: z.boolean(),
  created_at: timestamp,
  last_login_at: timestamp.nullable(),
});
export type User = z.infer<typeof userSchema>;

export const sessionSchema = z.object({
  user: userSchema,
  access_token: z.string(),
  refresh_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
});
export type Session = z.infer<typeof sessionSchema>;

export const apiKeySchema = z.object({
  id: uuid,
  name: z.string(),
  prefix: z.string(),
  scopes: z.array(scopeSchema),
  created_at: timestamp,
  expires_at: timestamp.nullable(),
  last_used_at: timestamp.nullable(),
  revoked_at: timestamp.nullable(),
});

/** What an admin sees of a user: the user's own view plus where it is in its lifecycle. */
export const adminUserSchema = userSchema.extend({
  deactivated_at: timestamp.nullable(),
  erased_at: timestamp.nullable(),
});
export const userStatuses = ['active', 'deactivated', 'erased'] as const;

/** A login's refresh token as its owner sees it in an export (never the token or its hash). */
export const sessionRecordSchema = z.object({
  id: uuid,
  created_at: timestamp,
  expires_at: timestamp,
  revoked_at: timestamp.nullable(),
  revoked_reason: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
});

/** Every record about me (GDPR art. 15/20), secrets excluded; docs/API.md "Your data". */
export const userExportSchema = z.object({
  exported_at: timestamp,
  user: userSchema,
  api_keys: z.array(apiKeySchema),
  sessions: z.array(sessionRecordSchema),
  payments: accountExportSchema,
  /** True when a list was cut at its limit (10,000 entries). */
  truncated: z.boolean(),
});

/**
 * A user whose access tokens issued at or before `revoked_at` are refused; the entry matters
 * until `expires_at`, when the last such token has expired.
 */
export const sessionRevocationSchema = z.object({
  user_id: uuid,
  revoked_at: timestamp,
  expires_at: timestamp,
});

export type SessionRevocation = z.infer<typeof sessionRevocationSchema>;

const userId = { user_id: uuid };
const adminErrors = ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'API_KEY_NOT_ALLOWED', 'FORBIDDEN'] as const;

const jwkSchema = z.object({
  kty: z.string(),
  crv: z.string().optional(),
  x: z.string().optional(),
  n: z.string().optional(),
  e: z.string().optional(),
  kid: z.string(),
  alg: z.string(),
  use: z.literal('sig'),
});

const refreshToken = z.string().min(1).max(200);

export const authEndpoints = {
  register: defineEndpoint({
    service: 'auth',
    name: 'register',
    request: z.strictObject({ email, password, name: z.string().trim().min(1).max(100).optional() }),
    response: sessionSchema,
    errors: ['VALIDATION_FAILED', 'WEAK_PASSWORD', 'EMAIL_TAKEN'],
    timeoutMs: 5_000,
  }),
  login: defineEndpoint({
    service: 'auth',
    name: 'login',
    request: z.strictObject({ email, password }),
    response: sessionSchema,
    errors: ['VALIDATION_FAILED', 'INVALID_CREDENTIALS'],
    timeoutMs: 5_000,
  }),
  refresh: defineEndpoint({
    service: 'auth',
    name: 'refresh',
    request: z.strictObject({ refresh_token: refreshToken }),
    response: sessionSchema,
    errors: ['VALIDATION_FAILED', 'INVALID_REFRESH_TOKEN', 'REFRESH_TOKEN_REUSED'],
    timeoutMs: 2_000,
  }),
  logout: defineEndpoint({
    service: 'auth',
    name: 'logout',
    request: z.strictObject({ refresh_token: refreshToken }),
    response: emptyResponse,
    errors: ['VALIDATION_FAILED'],
    timeoutMs: 2_000,
  }),
  me: defineEndpoint({
    service: 'auth',
    name: 'me',
    request: emptyRequest,
    response: userSchema,
    errors: ['UNAUTHENTICATED', 'NOT_FOUND'],
    timeoutMs: 2_000,
  }),
  changePassword: defineEndpoint({
    service: 'auth',
    name: 'change-password',
    request: z.strictObject({ current_password: password, new_password: password }),
    response: emptyResponse,
    errors: [
      'VALIDATION_FAILED',
      'UNAUTHENTICATED',
      'WEAK_PASSWORD',
      'INVALID_CREDENTIALS',
      'API_KEY_NOT_ALLOWED',
    ],
    timeoutMs: 5_000,
  }),
  createApiKey: defineEndpoint({
    service: 'auth',
    name: 'api-key.create',
    request: z.strictObject({
      name: z.string().trim().min(1).max(100),
      scopes: z.array(scopeSchema).min(1).max(12),
      expires_in_days: z.number().int().min(1).max(365).optional(),
    }),
    response: apiKeySchema.extend({ key: z.string() }),
    errors: ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'API_KEY_NOT_ALLOWED', 'CONFLICT'],
    timeoutMs: 2_000,
  }),
  listApiKeys: defineEndpoint({
    service: 'auth',
    name: 'api-key.list',
    request: z.strictObject(pageRequest),
    response: pageOf(apiKeySchema),
    errors: ['VALIDATION_FAILED', 'UNAUTHENTICATED'],
    timeoutMs: 2_000,
  }),
  revokeApiKey: defineEndpoint({
    service: 'auth',
    name: 'api-key.revoke',
    request: z.strictObject({ id: uuid }),
    response: emptyResponse,
    errors: ['VALIDATION_FAILED', 'UNAUTHENTICATED', 'NOT_FOUND', 'API_KEY_NOT_ALLOWED'],
    timeoutMs: 2_000,
  }),
  /** Internal: the gateway resolves an API key to a principal (it caches the answer briefly). */
  verifyApiKey: defineEndpoint({
    service: 'auth',
    name: 'api-key.verify',
    request: z.strictObject({ key: z.string().min(1).max(200) }),
    response: principalSchema,
    errors: ['INVALID_API_KEY'],
    timeoutMs: 1_000,
  }),
  jwks: defineEndpoint({
    service: 'auth',
    name: 'jwks',
    request: emptyRequest,
    response: z.object({ keys: z.array(jwkSchema) }),
    errors: [],
    timeoutMs: 1_000,
  }),
  /** Admin: a new key starts signing; older keys keep verifying until their tokens expire. */
  rotateSigningKey: defineEndpoint({
    service: 'auth',
    name: 'signing-key.rotate',
    request: emptyRequest,
    response: z.object({ kid: z.string(), retired_kids: z.array(z.string()) }),
    errors: ['UNAUTHENTICATED', 'API_KEY_NOT_ALLOWED', 'FORBIDDEN'],
    timeoutMs: 5_000,
  }),
  /** Admin: replace a user's roles. */
  setRoles: defineEndpoint({
    service: 'auth',
    name: 'user.set-roles',
    request: z.strictObject({ user_id: uuid, roles: z.array(roleSchema).min(1).max(4) }),
    response: userSchema,
    errors: [...adminErrors, 'NOT_FOUND', 'CONFLICT'],
    timeoutMs: 2_000,
  }),
  /** My data (session only): profile, roles, API keys without secrets, sessions, payments. */
  exportData: defineEndpoint({
    service: 'auth',
    name: 'user.export',
    request: emptyRequest,
    response: userExportSchema,
    errors: ['UNAUTHENTICATED', 'API_KEY_NOT_ALLOWED', 'NOT_FOUND'],
    timeoutMs: 15_000,
  }),
  /**
   * Erases my account (session only, confirmed with the password): the payment account must be
   * empty and is closed; every session and key stops at once; PII is erased. At HTTP: 204.
   */
  erase: defineEndpoint({
    service: 'auth',
    name: 'user.erase',
    request: z.strictObject({ password }),
    response: z.object({ user_id: uuid, revocation: sessionRevocationSchema }),
    errors: [
      'VALIDATION_FAILED',
      'UNAUTHENTICATED',
      'API_KEY_NOT_ALLOWED',
      'INVALID_CREDENTIALS',
      'ACCOUNT_NOT_EMPTY',
      'CONFLICT',
    ],
    timeoutMs: 15_000,
  }),
  /** Admin: users, newest first; `q` matches an email prefix, a user id or a DID exactly. */
  listUsers: defineEndpoint({
    service: 'auth',
    name: 'user.list',
    request: z.strictObject({
      ...pageRequest,
      q: z.string().trim().min(1).max(254).optional(),
      status: z.enum(userStatuses).optional(),
      role: roleSchema.optional(),
    }),
    response: pageOf(adminUserSchema),
    errors: [...adminErrors],
    timeoutMs: 5_000,
  }),
  /** Admin: the user can no longer sign in; sessions, access tokens and API keys stop at once. */
  deactivateUser: defineEndpoint({
    service: 'auth',
    name: 'user.deactivate',
    request: z.strictObject({ ...userId, reason: z.string().trim().min(1).max(500).optional() }),
    response: adminUserSchema.extend({ revocation: sessionRevocationSchema }),
    errors: [...adminErrors, 'NOT_FOUND', 'CONFLICT'],
    timeoutMs: 5_000,
  }),
  /** Admin: the user may sign in again; API keys it did not revoke work again, old sessions do not. */
  reactivateUser: defineEndpoint({
    service: 'auth',
    name: 'user.reactivate',
    request: z.strictObject(userId),
    response: adminUserSchema,
    errors: [...adminErrors, 'NOT_FOUND', 'CONFLICT'],
    timeoutMs: 5_000,
  }),
  /** Admin: ends every session of the user (refresh tokens and access tokens) at once. */
  revokeUserSessions: defineEndpoint({
    service: 'auth',
    name: 'user.sessions.revoke',
    request: z.strictObject(userId),
    response: z.object({
      user_id: uuid,
      refresh_tokens_revoked: z.int().min(0),
      revocation: sessionRevocationSchema,
    }),
    errors: [...adminErrors, 'NOT_FOUND'],
    timeoutMs: 5_000,
  }),
  /** Admin: revokes every API key of the user. */
  revokeUserApiKeys: defineEndpoint({
    service: 'auth',
    name: 'user.api-keys.revoke',
    request: z.strictObject(userId),
    response: z.object({ user_id: uuid, api_keys_revoked: z.int().min(0) }),
    errors: [...adminErrors, 'NOT_FOUND'],
    timeoutMs: 5_000,
  }),
  /**
   * Internal (gateways): revocations still in force, oldest first from `since` (exclusive), at
   * most 1,000 per answer; `next_since` is set when more follow. Gateways load them at start and
   * poll them, beside the event, so a revocation is never missed.
   */
  sessionRevocations: defineEndpoint({
    service: 'auth',
    name: 'session-revocations',
    request: z.strictObject({ since: timestamp.optional() }),
    response: z.object({ items: z.array(sessionRevocationSchema), next_since: timestamp.nullable() }),
    errors: ['VALIDATION_FAILED'],
    timeoutMs: 2_000,
  }),
} as const;

export const authEvents = {
  userRegistered: defineEvent(
    'evt.auth.user.registered',
    z.object({ user_id: uuid, did: z.string(), roles: z.array(roleSchema) }),
  ),
  apiKeyRevoked: defineEvent('evt.auth.api-key.revoked', z.object({ api_key_id: uuid, user_id: uuid })),
  /** Every gateway refuses the user's access tokens issued at or before `revoked_at` and forgets its API keys. */
  sessionsRevoked: defineEvent('evt.auth.user.sessions-revoked', sessionRevocationSchema),
  /** The user erased the account: services holding personal data of it erase theirs. */
  userErased: defineEvent('evt.auth.user.erased', z.object({ user_id: uuid, did: z.string() })),
} as const;
