import { createHash, type KeyObject, sign, verify } from 'node:crypto';
import { generateBusKeyPair, parseSigningKey, parseTrustedKeys } from '@zerostate/config';
import { type Principal, principalSchema, serviceDid } from '@zerostate/contracts';

/**
 * Signed principals: what a service acts on must be provably issued by a signer it trusts (the
 * gateway, for users and API keys). The token travels in the `zs-principal` header as
 * `v1.<claims>.<signature>` (base64url): Ed25519 over `v1.<claims>`, where the claims bind the
 * principal to one subject, one request id, one body (its SHA-256) and a lifetime of seconds.
 * See docs/ARCHITECTURE.md "Trust on the bus" for the threat model.
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

export function createPrincipalSigner(options: {
  issuer: string;
  privateKey: KeyObject;
  lifetimeSeconds?: number;
  now?: () => number;
}): PrincipalSigner {
  const lifetime = options.lifetimeSeconds ?? defaultLifetimeSeconds;
  const now = options.now ?? Date.now;
  return {
    issuer: options.issuer,
    sign(principal, binding) {
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
      return `${signed}.${sign(null, Buffer.from(signed), options.privateKey).toString('base64url')}`;
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
  trusted: Map<string, KeyObject[]>;
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
      const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
      const signature = Buffer.from(parts[2]!, 'base64url');
      if (!keys.some((key) => verify(null, signed, key, signature)))
        throw new PrincipalRejected('bad_signature');
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
 * A fresh key pair for one issuer, in every form a process needs: the settings
 * (`BUS_SIGNING_KEY` for the signer, a `BUS_TRUSTED_KEYS` entry for the verifiers) and a ready
 * signer and verifier. `pnpm start` and the test stacks make one per run, so no key is shared.
 */
export function generateBusTrust(issuer: string = gatewayIssuer): {
  signingKey: string;
  trustedKeys: string;
  signer: PrincipalSigner;
  verifier: PrincipalVerifier;
} {
  const { privateKey, publicKey } = generateBusKeyPair();
  const trustedKeys = `${issuer}=${publicKey}`;
  return {
    signingKey: privateKey,
    trustedKeys,
    signer: createPrincipalSigner({ issuer, privateKey: parseSigningKey(privateKey) }),
    verifier: createPrincipalVerifier({ trusted: parseTrustedKeys(trustedKeys) }),
  };
}
