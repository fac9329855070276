import { endpoint, type Registration } from '@zerostate/bus';
import { authEndpoints, type Principal, type Role } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import {
  createApiKey,
  findApiKeyByHash,
  listApiKeys,
  recordApiKeyUse,
  revokeApiKey,
} from '../db/api-keys.js';
import { requirePrincipal, requireUserSession } from '../domain/access.js';
import {
  apiKeyExpiresAt,
  isApiKeyUsable,
  isValidCursor,
  liveApiKeysMax,
  shouldRecordApiKeyUse,
} from '../domain/key-rules.js';
import { generateApiKey, isApiKeyShaped, sha256Hex } from '../domain/secrets.js';
import { type AuthDependencies, originOf } from './dependencies.js';
import { encodeApiKey } from './encode.js';

/** api-key.create, api-key.list, api-key.revoke, api-key.verify. */
export function apiKeyRegistrations(dependencies: AuthDependencies): Registration[] {
  const { prisma } = dependencies;

  const create = endpoint(authEndpoints.createApiKey, async (input, context) => {
    const caller = requireUserSession(context.principal);
    const generated = generateApiKey();
    const created = await createApiKey(
      prisma,
      {
        userId: caller.user_id,
        name: input.name,
        scopes: [...new Set(input.scopes)],
        prefix: generated.prefix,
        hash: generated.hash,
        expiresAt: apiKeyExpiresAt(new Date(), input.expires_in_days),
      },
      originOf(context),
    );
    if (created === 'limit_reached') {
      throw new AppError(
        'CONFLICT',
        `A user may hold at most ${liveApiKeysMax} live API keys; revoke one first.`,
      );
    }
    return { ...encodeApiKey(created), key: generated.key };
  });

  const list = endpoint(authEndpoints.listApiKeys, async (input, context) => {
    const caller = requirePrincipal(context.principal);
    if (input.cursor !== undefined && !isValidCursor(input.cursor)) {
      throw new AppError('VALIDATION_FAILED', 'The cursor is not valid.', { details: [{ path: 'cursor' }] });
    }
    const page = await listApiKeys(prisma, {
      userId: caller.user_id,
      limit: input.limit,
      cursor: input.cursor,
    });
    return { items: page.items.map(encodeApiKey), next_cursor: page.nextCursor };
  });

  const revoke = endpoint(authEndpoints.revokeApiKey, async (input, context) => {
    const caller = requireUserSession(context.principal);
    const outcome = await revokeApiKey(prisma, {
      userId: caller.user_id,
      keyId: input.id,
      origin: originOf(context),
    });
    if (outcome === 'not_found') throw new AppError('NOT_FOUND');
    if (outcome === 'revoked') dependencies.kickOutbox();
    return {};
  });

  const verify = endpoint(authEndpoints.verifyApiKey, async (input) => {
    const principal = await resolveApiKey(dependencies, input.key);
    dependencies.metrics.apiKeyValidations.inc({ result: principal ? 'valid' : 'invalid' });
    if (!principal) throw new AppError('INVALID_API_KEY');
    return principal;
  });

  return [create, list, revoke, verify];
}

/** The principal an API key stands for, or undefined for unknown, revoked, expired or inactive. */
async function resolveApiKey(dependencies: AuthDependencies, key: string): Promise<Principal | undefined> {
  if (!isApiKeyShaped(key)) return undefined;
  const found = await findApiKeyByHash(dependencies.prisma, sha256Hex(key));
  const now = new Date();
  if (!found) return undefined;
  const usable = isApiKeyUsable({ ...found.key, userIsActive: found.owner.isActive }, now);
  if (!usable) return undefined;
  if (shouldRecordApiKeyUse(found.key.lastUsedAt, now))
    await recordApiKeyUse(dependencies.prisma, found.key.id);
  return {
    kind: 'api_key',
    user_id: found.owner.id,
    did: found.owner.did,
    roles: found.owner.roles as Role[],
    is_system: found.owner.isSystem,
    scopes: found.key.scopes,
    api_key_id: found.key.id,
  };
}
