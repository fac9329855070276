import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { generateBusKey } from '@zerostate/config';
import { type Principal, principalSchema, serviceDid } from '@zerostate/contracts';

/**
 * Signed principals: what a service acts on must be provably issued by a caller it trusts (the
 * gateway, for users and API keys; another service, for itself). The token travels in the
 * `zs-principal` header as `v1.<claims>.<mac>` (base64url): HMAC-SHA256 over `v1.<claims>` with
 * the key of that one link (caller → callee, see @zerostate/config bus-keys), where the claims
 * bind the principal to one subject, one request id, one body (its SHA-256) and 30 seconds.
 * See docs/ARCHITECTURE.md "Trust on the bus" for the design and the threat model.
 */

/** Who signs for users and API keys. */
export const gatewayIssuer = 'gateway';

/** Why a principal was refused; the `reason` label of `nats_principal_rejected_total`. */
export type PrincipalRejection =
  | 'unsigned'
  | 'malformed'
  | 'unknown_issuer'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_subject'
  | 'wrong_request'
  | 'wrong_body'
  | 'issuer_mismatch';

export class PrincipalRejected extends Error {
  constructor(readonly reason: PrincipalRejection) {
    super(`principal refused: ${reason}`);
    this.name = 'PrincipalRejected';
  }
}

/** What a token is bound to: the message it travels with. */
export interface PrincipalBinding {
  subject: string;
  requestId: string;
  body: Uint8Array;
}

interface Claims {
  iss: string;
  aud: string;
  rid: string;
  bh: string;
  iat: number;
  exp: number;
  p: Principal;
}

export interface PrincipalSigner {
  readonly issuer: string;
  sign(principal: Principal, binding: PrincipalBinding): string;
}

export interface PrincipalVerifier {
  /** The principal the token carries, or throws PrincipalRejected. */
  verify(token: string, binding: PrincipalBinding): Principal;
}

const version = 'v1';
/** Longer than any delivery, far shorter than what a replay would need to be useful elsewhere. */
const defaultLifetimeSeconds = 30;
/** Clocks of the gateway and the services may differ this much. */
const clockSkewSeconds = 5;

const bodyHash = (body: Uint8Array) => createHash('sha256').update(body).digest('base64url');
const macOf = (key: Buffer, signed: string) => createHmac('sha256', key).update(signed).digest();
/** `svc.<service>.<verb>` → `<service>`: whose link key signs a call. */
const calleeOf = (subject: string) => subject.split('.')[1] ?? '';

export function createPrincipalSigner(options: {
  issuer: string;
  /** One key per callee bus name (`BUS_SIGNING_KEYS`). */
  keys: Map<string, Buffer>;
  lifetimeSeconds?: number;
  now?: () => number;
}): PrincipalSigner {
  const lifetime = options.lifetimeSeconds ?? defaultLifetimeSeconds;
  const now = options.now ?? Date.now;
  return {
    issuer: options.issuer,
    sign(principal, binding) {
      const callee = calleeOf(binding.subject);
      const key = options.keys.get(callee);
      if (!key)
        throw new Error(`BUS_SIGNING_KEYS has no key for ${callee}: ${options.issuer} may not call it`);
      const issuedAt = Math.floor(now() / 1000);
      const claims: Claims = {
        iss: options.issuer,
        aud: binding.subject,
        rid: binding.requestId,
        bh: bodyHash(binding.body),
        iat: issuedAt,
        exp: issuedAt + lifetime,
        p: principal,
      };
      const signed = `${version}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      return `${signed}.${macOf(key, signed).toString('base64url')}`;
    },
  };
}

/**
 * Which principals an issuer may sign: the gateway signs for users and API keys; any other
 * issuer is a service and signs only for itself.
 */
function issuerMayCarry(issuer: string, principal: Principal): boolean {
  if (issuer === gatewayIssuer) return principal.kind === 'user' || principal.kind === 'api_key';
  return principal.kind === 'service' && principal.service === issuer;
}

export function createPrincipalVerifier(options: {
  /** The keys of each caller this service obeys (`BUS_TRUSTED_KEYS`). */
  trusted: Map<string, Buffer[]>;
  now?: () => number;
}): PrincipalVerifier {
  const now = options.now ?? Date.now;
  return {
    verify(token, binding) {
      const parts = token.split('.');
      if (parts.length !== 3 || parts[0] !== version) {
        throw new PrincipalRejected(token.trimStart().startsWith('{') ? 'unsigned' : 'malformed');
      }
      let claims: Claims;
      try {
        claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Claims;
      } catch {
        throw new PrincipalRejected('malformed');
      }
      if (typeof claims !== 'object' || claims === null || typeof claims.iss !== 'string') {
        throw new PrincipalRejected('malformed');
      }
      const keys = options.trusted.get(claims.iss);
      if (!keys) throw new PrincipalRejected('unknown_issuer');
      const signed = `${parts[0]}.${parts[1]}`;
      const mac = Buffer.from(parts[2]!, 'base64url');
      const matches = (key: Buffer) => {
        const expected = macOf(key, signed);
        return mac.length === expected.length && timingSafeEqual(mac, expected);
      };
      if (!keys.some(matches)) throw new PrincipalRejected('bad_signature');
      const seconds = now() / 1000;
      if (!(typeof claims.exp === 'number' && seconds <= claims.exp + clockSkewSeconds)) {
        throw new PrincipalRejected('expired');
      }
      if (!(typeof claims.iat === 'number' && claims.iat <= seconds + clockSkewSeconds)) {
        throw new PrincipalRejected('not_yet_valid');
      }
      if (claims.aud !== binding.subject) throw new PrincipalRejected('wrong_subject');
      if (claims.rid !== binding.requestId) throw new PrincipalRejected('wrong_request');
      if (claims.bh !== bodyHash(binding.body)) throw new PrincipalRejected('wrong_body');
      const principal = principalSchema.safeParse(claims.p);
      if (!principal.success) throw new PrincipalRejected('malformed');
      if (!issuerMayCarry(claims.iss, principal.data)) throw new PrincipalRejected('issuer_mismatch');
      return principal.data;
    },
  };
}

/**
 * The principal a service signs for itself. Its `user_id` is a fixed UUID derived from the name
 * (version 8), so logs and request contexts have one; it owns nothing and holds no role.
 */
export function servicePrincipal(service: string): Principal {
  const hex = createHash('sha256').update(`zerostate-service:${service}`).digest('hex');
  const variant = '89ab'[Number.parseInt(hex[16]!, 16) & 3];
  const userId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  return { kind: 'service', service, user_id: userId, did: serviceDid(service), roles: [], is_system: false };
}

/**
 * A fresh link `issuer → callee`, in every form a process needs: the caller's `BUS_SIGNING_KEYS`
 * entry, the callee's `BUS_TRUSTED_KEYS` entry, and a ready signer and verifier. `pnpm start` and
 * the test stacks make their links per run, so no key is shared between runs.
 */
export function generateBusTrust(
  callee: string,
  issuer: string = gatewayIssuer,
): {
  key: string;
  signingKeys: string;
  trustedKeys: string;
  signer: PrincipalSigner;
  verifier: PrincipalVerifier;
} {
  const key = generateBusKey();
  const buffer = Buffer.from(key, 'base64');
  return {
    key,
    signingKeys: `${callee}=${key}`,
    trustedKeys: `${issuer}=${key}`,
    signer: createPrincipalSigner({ issuer, keys: new Map([[callee, buffer]]) }),
    verifier: createPrincipalVerifier({ trusted: new Map([[issuer, [buffer]]]) }),
  };
}
