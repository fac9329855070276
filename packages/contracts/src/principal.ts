import { z } from 'zod';

/** `user` (everyone) and `admin` (platform operators). `agent_operator` granted nothing and was removed. */
export const roles = ['user', 'admin'] as const;
export const roleSchema = z.enum(roles);
export type Role = z.infer<typeof roleSchema>;

/**
 * Scopes an API key may carry. A signed-in user (JWT) holds every scope. `*:read` grants every
 * `<area>:read` scope.
 */
export const scopes = [
  '*:read',
  'users:read',
  'agents:read',
  'agents:write',
  'auctions:read',
  'bids:write',
  'payments:read',
  'payments:write',
  'tasks:read',
  'tasks:write',
  'reputation:read',
  'reputation:write',
] as const;
export const scopeSchema = z.enum(scopes);
export type Scope = z.infer<typeof scopeSchema>;

/**
 * Who is calling. The gateway builds a user or API-key principal from a verified JWT or API key;
 * a service calling another acts as itself (`kind: 'service'`, `service` its bus name, DID
 * `did:zerostate:service:<name>`, no roles, owning nothing). It travels signed in the
 * `zs-principal` NATS header (`@zerostate/bus` principal tokens); services enforce ownership and
 * roles from it, never from a raw token.
 */
export const principalSchema = z
  .object({
    kind: z.enum(['user', 'api_key', 'service']),
    user_id: z.uuid(),
    did: z.string().max(200),
    roles: z.array(roleSchema).max(roles.length),
    is_system: z.boolean(),
    /** Present for API keys; a user session holds every scope. */
    scopes: z.array(scopeSchema).max(scopes.length).optional(),
    api_key_id: z.uuid().optional(),
    /** Present for a service principal: the calling service's bus name. */
    service: z
      .string()
      .regex(/^[a-z][a-z0-9-]*$/)
      .max(64)
      .optional(),
  })
  .refine(
    (principal) =>
      principal.kind === 'service'
        ? principal.service !== undefined &&
          principal.did === serviceDid(principal.service) &&
          principal.roles.length === 0 &&
          !principal.is_system
        : principal.service === undefined,
    'a service principal names its service, its service DID and no roles; others name no service',
  );

/** The DID a service acts under. */
export function serviceDid(service: string): string {
  return `did:zerostate:service:${service}`;
}

export type Principal = z.infer<typeof principalSchema>;

export function hasScope(principal: Principal, needed: Scope): boolean {
  if (principal.kind === 'user' || principal.scopes === undefined) return principal.kind === 'user';
  if (principal.scopes.includes(needed)) return true;
  return needed.endsWith(':read') && principal.scopes.includes('*:read');
}

export function hasRole(principal: Principal, role: Role): boolean {
  return principal.is_system || principal.roles.includes(role);
}
