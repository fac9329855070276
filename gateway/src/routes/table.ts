import {
  auctionEndpoints,
  authEndpoints,
  paymentEndpoints,
  reputationEndpoints,
  type SessionRevocation,
  taskEndpoints,
} from '@zerostate/contracts';
import type { RequestHandler } from 'express';
import type { ApiKeyResolver } from '../auth/api-keys.js';
import type { RevocationList } from '../auth/revocations.js';
import type { RouteSpec } from './route.js';

/**
 * Every `/api/v1` route and the contract it calls. The OpenAPI document (`openapi.ts`) is built
 * from this table and the contracts' schemas.
 */
export function apiRoutes(dependencies: {
  loginLimiter: RequestHandler;
  apiKeys: ApiKeyResolver;
  revocations: RevocationList;
}): RouteSpec[] {
  return [
    {
      method: 'post',
      path: '/auth/register',
      endpoint: authEndpoints.register,
      auth: 'none',
      status: 201,
      // Every registration costs a bcrypt hash, so it shares login's stricter per-IP budget.
      before: [dependencies.loginLimiter],
    },
    {
      method: 'post',
      path: '/auth/login',
      endpoint: authEndpoints.login,
      auth: 'none',
      before: [dependencies.loginLimiter],
    },
    { method: 'post', path: '/auth/refresh', endpoint: authEndpoints.refresh, auth: 'none' },
    { method: 'post', path: '/auth/logout', endpoint: authEndpoints.logout, auth: 'none', status: 204 },
    { method: 'get', path: '/users/me', endpoint: authEndpoints.me, auth: 'required', scope: 'users:read' },
    {
      method: 'post',
      path: '/users/me/password',
      endpoint: authEndpoints.changePassword,
      auth: 'required',
      sessionOnly: true,
      status: 204,
      // It checks the current password: login's budget, per user and per IP.
      before: [dependencies.loginLimiter],
    },
    {
      method: 'post',
      path: '/api-keys',
      endpoint: authEndpoints.createApiKey,
      auth: 'required',
      sessionOnly: true,
      status: 201,
    },
    {
      method: 'get',
      path: '/api-keys',
      endpoint: authEndpoints.listApiKeys,
      auth: 'required',
      scope: 'users:read',
    },
    {
      method: 'delete',
      path: '/api-keys/:id',
      endpoint: authEndpoints.revokeApiKey,
      auth: 'required',
      sessionOnly: true,
      status: 204,
      after: (input) => dependencies.apiKeys.evict(String(input.id)),
    },
    {
      method: 'post',
      path: '/admin/signing-keys/rotate',
      endpoint: authEndpoints.rotateSigningKey,
      auth: 'required',
      sessionOnly: true,
      role: 'admin',
    },
    ...accountLifecycleRoutes(dependencies),
    ...paymentRoutes(),
    ...agentRoutes(),
    ...auctionRoutes(),
    ...reputationRoutes(),
    ...taskRoutes(),
  ];
}

/**
 * A user's own export and erasure, and an admin's user management. A route that revokes sessions
 * applies the revocation the auth service answered with before it answers, so the caller's next
 * request through this gateway already meets it; other gateways learn it from the event.
 */
function accountLifecycleRoutes(dependencies: {
  loginLimiter: RequestHandler;
  apiKeys: ApiKeyResolver;
  revocations: RevocationList;
}): RouteSpec[] {
  const admin = { auth: 'required', sessionOnly: true, role: 'admin' } as const;
  const revoke = (_input: unknown, output: { revocation: SessionRevocation | null }) => {
    if (output.revocation) dependencies.revocations.apply(output.revocation);
  };
  return [
    {
      method: 'get',
      path: '/users/me/export',
      endpoint: authEndpoints.exportData,
      auth: 'required',
      sessionOnly: true,
    },
    {
      method: 'delete',
      path: '/users/me',
      endpoint: authEndpoints.erase,
      auth: 'required',
      sessionOnly: true,
      status: 204,
      // It checks the password: login's budget, per user and per IP.
      before: [dependencies.loginLimiter],
      after: revoke,
    },
    { method: 'get', path: '/admin/users', endpoint: authEndpoints.listUsers, ...admin },
    {
      method: 'post',
      path: '/admin/users/:user_id/roles',
      endpoint: authEndpoints.setRoles,
      ...admin,
      after: revoke,
    },
    {
      method: 'post',
      path: '/admin/users/:user_id/deactivate',
      endpoint: authEndpoints.deactivateUser,
      ...admin,
      after: revoke,
    },
    {
      method: 'post',
      path: '/admin/users/:user_id/reactivate',
      endpoint: authEndpoints.reactivateUser,
      ...admin,
    },
    {
      method: 'post',
      path: '/admin/users/:user_id/sessions/revoke',
      endpoint: authEndpoints.revokeUserSessions,
      ...admin,
      after: revoke,
    },
    {
      method: 'post',
      path: '/admin/users/:user_id/api-keys/revoke',
      endpoint: authEndpoints.revokeUserApiKeys,
      ...admin,
      after: (input) => dependencies.apiKeys.evictUser(String(input.user_id)),
    },
  ];
}

/**
 * Payments: each caller acts on its own account (ownership is the service's check). Every POST
 * moves money, so it honours `Idempotency-Key`. Escrow endpoints are internal (the task service
 * calls them over NATS) and never routed.
 */
function paymentRoutes(): RouteSpec[] {
  const read = { auth: 'required', scope: 'payments:read' } as const;
  const write = { auth: 'required', scope: 'payments:write', idempotent: true } as const;
  const admin = { auth: 'required', sessionOnly: true, role: 'admin' } as const;
  return [
    { method: 'post', path: '/payments/deposit', endpoint: paymentEndpoints.deposit, ...write, status: 201 },
    {
      method: 'post',
      path: '/payments/withdraw',
      endpoint: paymentEndpoints.withdraw,
      ...write,
      status: 201,
    },
    { method: 'get', path: '/payments/balance', endpoint: paymentEndpoints.balance, ...read },
    { method: 'get', path: '/payments/history', endpoint: paymentEndpoints.history, ...read },
    {
      method: 'post',
      path: '/payments/channels',
      endpoint: paymentEndpoints.openChannel,
      ...write,
      status: 201,
    },
    { method: 'get', path: '/payments/channels', endpoint: paymentEndpoints.listChannels, ...read },
    { method: 'get', path: '/payments/channels/:id', endpoint: paymentEndpoints.getChannel, ...read },
    { method: 'post', path: '/payments/channels/:id/pay', endpoint: paymentEndpoints.payChannel, ...write },
    {
      method: 'post',
      path: '/payments/channels/:id/close',
      endpoint: paymentEndpoints.closeChannel,
      ...write,
    },
    {
      method: 'get',
      path: '/admin/payments/reconciliation',
      endpoint: paymentEndpoints.reconcile,
      ...admin,
    },
    { method: 'get', path: '/admin/payments/statistics', endpoint: paymentEndpoints.statistics, ...admin },
  ];
}

/**
 * The agent registry: reads are public (anonymous or any caller); writes need `agents:write` and
 * the service checks ownership (someone else's agent is 404).
 */
function agentRoutes(): RouteSpec[] {
  const open = { auth: 'optional' } as const;
  const write = { auth: 'required', scope: 'agents:write' } as const;
  return [
    { method: 'post', path: '/agents', endpoint: auctionEndpoints.registerAgent, ...write, status: 201 },
    { method: 'get', path: '/agents', endpoint: auctionEndpoints.listAgents, ...open },
    { method: 'get', path: '/agents/:id', endpoint: auctionEndpoints.getAgent, ...open },
    { method: 'patch', path: '/agents/:id', endpoint: auctionEndpoints.updateAgent, ...write },
    { method: 'delete', path: '/agents/:id', endpoint: auctionEndpoints.retireAgent, ...write, status: 204 },
    { method: 'post', path: '/agents/:id/heartbeat', endpoint: auctionEndpoints.heartbeat, ...write },
  ];
}

/**
 * Auctions and bids: reads need `auctions:read`, opening and cancelling `tasks:write`, bidding
 * `bids:write` with `Idempotency-Key`. What a reader sees of an auction is the service's rule.
 */
function auctionRoutes(): RouteSpec[] {
  const read = { auth: 'required', scope: 'auctions:read' } as const;
  const tasks = { auth: 'required', scope: 'tasks:write' } as const;
  return [
    { method: 'post', path: '/auctions', endpoint: auctionEndpoints.createAuction, ...tasks, status: 201 },
    { method: 'get', path: '/auctions', endpoint: auctionEndpoints.listAuctions, ...read },
    { method: 'get', path: '/auctions/:id', endpoint: auctionEndpoints.getAuction, ...read },
    { method: 'post', path: '/auctions/:id/cancel', endpoint: auctionEndpoints.cancelAuction, ...tasks },
    {
      method: 'post',
      path: '/auctions/:id/bids',
      endpoint: auctionEndpoints.placeBid,
      auth: 'required',
      scope: 'bids:write',
      idempotent: true,
      status: 201,
    },
  ];
}

/**
 * Reputation: reads are public (anonymous or any caller); rating a task needs `reputation:write`
 * and honours `Idempotency-Key` (the service replays the first rating). Whether the caller is the
 * task's paying requester is the service's check.
 */
function reputationRoutes(): RouteSpec[] {
  const open = { auth: 'optional' } as const;
  return [
    { method: 'get', path: '/reputation', endpoint: reputationEndpoints.leaderboard, ...open },
    { method: 'get', path: '/reputation/:agent_id', endpoint: reputationEndpoints.get, ...open },
    { method: 'get', path: '/agents/:id/performance', endpoint: reputationEndpoints.performance, ...open },
    {
      method: 'post',
      path: '/tasks/:id/rating',
      endpoint: reputationEndpoints.rate,
      auth: 'required',
      scope: 'reputation:write',
      idempotent: true,
      status: 201,
    },
  ];
}

/**
 * Tasks (SPEC §5b "Tasks"): reads need `tasks:read`, every change `tasks:write`; who may make
 * which move (requester, the assigned agent's owner, an admin) is the task service's check.
 * Creating a task honours `Idempotency-Key`; a result may carry up to 256 KiB of output, so its
 * route takes a larger body. The event stream is served by `event-stream.ts`.
 */
function taskRoutes(): RouteSpec[] {
  const read = { auth: 'required', scope: 'tasks:read' } as const;
  const write = { auth: 'required', scope: 'tasks:write' } as const;
  return [
    {
      method: 'post',
      path: '/tasks',
      endpoint: taskEndpoints.create,
      ...write,
      idempotent: true,
      status: 202,
    },
    { method: 'get', path: '/tasks', endpoint: taskEndpoints.list, ...read },
    { method: 'get', path: '/tasks/:id', endpoint: taskEndpoints.get, ...read },
    { method: 'get', path: '/tasks/:id/events', endpoint: taskEndpoints.get, ...read, eventStream: true },
    { method: 'post', path: '/tasks/:id/cancel', endpoint: taskEndpoints.cancel, ...write },
    { method: 'post', path: '/tasks/:id/accept', endpoint: taskEndpoints.accept, ...write },
    { method: 'post', path: '/tasks/:id/reject', endpoint: taskEndpoints.reject, ...write },
    { method: 'get', path: '/agents/:agent_id/assignments', endpoint: taskEndpoints.assignments, ...read },
    { method: 'post', path: '/tasks/:id/start', endpoint: taskEndpoints.start, ...write },
    {
      method: 'post',
      path: '/tasks/:id/result',
      endpoint: taskEndpoints.submitResult,
      ...write,
      bodyLimitBytes: taskResultBodyLimitBytes,
    },
    { method: 'post', path: '/tasks/:id/fail', endpoint: taskEndpoints.fail, ...write },
    {
      method: 'post',
      path: '/admin/tasks/:id/resolve',
      endpoint: taskEndpoints.resolve,
      auth: 'required',
      sessionOnly: true,
      role: 'admin',
    },
  ];
}

/** 256 KiB of output plus room for its JSON escaping and the envelope. */
export const taskResultBodyLimitBytes = 320 * 1024;

/** Served at the root, not under /api/v1. */
export const jwksRoute: RouteSpec = {
  method: 'get',
  path: '/.well-known/jwks.json',
  endpoint: authEndpoints.jwks,
  auth: 'none',
  headers: { 'cache-control': 'public, max-age=60' },
};
