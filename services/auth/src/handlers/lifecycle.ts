import { endpoint, type Registration, request, servicePrincipal } from '@zerostate/bus';
import { type AccountExport, authEndpoints, paymentEndpoints } from '@zerostate/contracts';
import { inTransaction } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import { writeAudit } from '../db/audit.js';
import {
  deactivateUser,
  encodeRevocation,
  eraseUser,
  listSessionRevocations,
  listUsers,
  type ManagedUser,
  reactivateUser,
  revokeUserApiKeys,
  revokeUserSessions,
} from '../db/lifecycle.js';
import { toApiKeyRecord } from '../db/mappers.js';
import { findUserById } from '../db/users.js';
import { requireAdmin, requireUserSession } from '../domain/access.js';
import { type AuthDependencies, originOf } from './dependencies.js';
import { encodeApiKey, encodeUser } from './encode.js';

/** How many API keys and sessions an export lists at most (`truncated` says when more exist). */
const exportLimit = 10_000;
/** How many revocations one answer to a gateway carries. */
const revocationPage = 1_000;

function encodeManagedUser(user: ManagedUser) {
  return {
    ...encodeUser(user),
    deactivated_at: user.deactivatedAt?.toISOString() ?? null,
    erased_at: user.erasedAt?.toISOString() ?? null,
  };
}

/**
 * The account lifecycle: a user's own export and erasure (session only), an admin's user search,
 * deactivation, reactivation and revocations, and the revocation feed gateways poll. Erasure and
 * export reach the payment service as the auth service itself (its link key; the payment
 * contracts list `auth` as their one caller).
 */
export function lifecycleRegistrations(dependencies: AuthDependencies): Registration[] {
  const { prisma, passwords, config } = dependencies;
  const accessTokenTtlSeconds = config.ACCESS_TOKEN_TTL_SECONDS;
  const asAuth = (requestId: string) => ({ requestId, principal: servicePrincipal('auth') });
  const payments = {
    close: (ownerDid: string, requestId: string) =>
      request(dependencies.nc, paymentEndpoints.closeAccount, { owner_did: ownerDid }, asAuth(requestId), {
        signer: dependencies.signer,
      }),
    export: (ownerDid: string, requestId: string): Promise<AccountExport> =>
      request(dependencies.nc, paymentEndpoints.exportAccount, { owner_did: ownerDid }, asAuth(requestId), {
        signer: dependencies.signer,
      }),
  };

  const exportData = endpoint(authEndpoints.exportData, async (_input, context) => {
    const caller = requireUserSession(context.principal);
    const user = await findUserById(prisma, caller.user_id);
    if (!user || !user.isActive) throw new AppError('NOT_FOUND');
    const [apiKeys, sessions, paymentData] = await Promise.all([
      prisma.apiKey.findMany({ where: { userId: user.id }, orderBy: { id: 'desc' }, take: exportLimit + 1 }),
      prisma.refreshToken.findMany({
        where: { userId: user.id },
        orderBy: { id: 'desc' },
        take: exportLimit + 1,
      }),
      payments.export(user.did, context.requestId),
    ]);
    await inTransaction(prisma, (transaction) =>
      writeAudit(transaction, originOf(context), {
        action: 'data_exported',
        actorUserId: user.id,
        targetId: user.id,
      }),
    );
    return {
      exported_at: new Date().toISOString(),
      user: encodeUser(user),
      api_keys: apiKeys.slice(0, exportLimit).map((key) => encodeApiKey(toApiKeyRecord(key))),
      sessions: sessions.slice(0, exportLimit).map((session) => ({
        id: session.id,
        created_at: session.createdAt.toISOString(),
        expires_at: session.expiresAt.toISOString(),
        revoked_at: session.revokedAt?.toISOString() ?? null,
        revoked_reason: session.revokedReason,
        ip: session.ip,
        user_agent: session.userAgent,
      })),
      payments: paymentData,
      truncated: apiKeys.length > exportLimit || sessions.length > exportLimit || paymentData.truncated,
    };
  });

  const erase = endpoint(authEndpoints.erase, async (input, context) => {
    const caller = requireUserSession(context.principal);
    const user = await findUserById(prisma, caller.user_id);
    if (!user || !user.isActive) throw new AppError('UNAUTHENTICATED');
    if (!(await passwords.verify(input.password, user.passwordHash))) {
      throw new AppError('INVALID_CREDENTIALS', 'The password is wrong.');
    }
    // Money first: the payment service closes the account only if it is empty, and a closed
    // account takes no money again. A failure after this leaves the user intact with a closed
    // account; erasing again completes (closing a closed account answers it again).
    await payments.close(user.did, context.requestId);
    const erased = await eraseUser(prisma, {
      userId: user.id,
      origin: originOf(context),
      accessTokenTtlSeconds,
    });
    if (erased === 'not_found') throw new AppError('UNAUTHENTICATED');
    if (erased === 'last_admin') throw new AppError('CONFLICT', 'The last admin cannot erase the account.');
    dependencies.kickOutbox();
    return { user_id: user.id, revocation: encodeRevocation(erased.revocation) };
  });

  const list = endpoint(authEndpoints.listUsers, async (input, context) => {
    requireAdmin(context.principal);
    if (input.cursor !== undefined && !/^[0-9a-f-]{36}$/.test(input.cursor)) {
      throw new AppError('VALIDATION_FAILED', 'The cursor is not valid.', { details: [{ path: 'cursor' }] });
    }
    const page = await listUsers(prisma, {
      q: input.q,
      status: input.status,
      role: input.role,
      limit: input.limit,
      cursor: input.cursor,
    });
    return { items: page.items.map(encodeManagedUser), next_cursor: page.nextCursor };
  });

  const lifecycleOptions = (
    userId: string,
    actorUserId: string,
    context: Parameters<typeof originOf>[0],
  ) => ({
    userId,
    actorUserId,
    origin: originOf(context),
    accessTokenTtlSeconds,
  });

  const deactivate = endpoint(authEndpoints.deactivateUser, async (input, context) => {
    const caller = requireAdmin(context.principal);
    const outcome = await deactivateUser(prisma, {
      ...lifecycleOptions(input.user_id, caller.user_id, context),
      reason: input.reason,
    });
    if (outcome === 'not_found') throw new AppError('NOT_FOUND');
    if (outcome === 'erased') throw new AppError('CONFLICT', 'The account is erased.');
    if (outcome === 'last_admin')
      throw new AppError('CONFLICT', 'The last active admin cannot be deactivated.');
    dependencies.kickOutbox();
    return { ...encodeManagedUser(outcome.user), revocation: encodeRevocation(outcome.revocation) };
  });

  const reactivate = endpoint(authEndpoints.reactivateUser, async (input, context) => {
    const caller = requireAdmin(context.principal);
    const outcome = await reactivateUser(prisma, lifecycleOptions(input.user_id, caller.user_id, context));
    if (outcome === 'not_found') throw new AppError('NOT_FOUND');
    if (outcome === 'erased') throw new AppError('CONFLICT', 'An erased account cannot be reactivated.');
    return encodeManagedUser(outcome);
  });

  const revokeSessions = endpoint(authEndpoints.revokeUserSessions, async (input, context) => {
    const caller = requireAdmin(context.principal);
    const outcome = await revokeUserSessions(
      prisma,
      lifecycleOptions(input.user_id, caller.user_id, context),
    );
    if (outcome === 'not_found') throw new AppError('NOT_FOUND');
    dependencies.kickOutbox();
    return {
      user_id: input.user_id,
      refresh_tokens_revoked: outcome.refreshTokensRevoked,
      revocation: encodeRevocation(outcome.revocation),
    };
  });

  const revokeApiKeys = endpoint(authEndpoints.revokeUserApiKeys, async (input, context) => {
    const caller = requireAdmin(context.principal);
    const revoked = await revokeUserApiKeys(prisma, {
      userId: input.user_id,
      actorUserId: caller.user_id,
      origin: originOf(context),
    });
    if (revoked === 'not_found') throw new AppError('NOT_FOUND');
    if (revoked > 0) dependencies.kickOutbox();
    return { user_id: input.user_id, api_keys_revoked: revoked };
  });

  const revocations = endpoint(authEndpoints.sessionRevocations, async (input) => {
    const page = await listSessionRevocations(prisma, {
      since: input.since === undefined ? undefined : new Date(input.since),
      accessTokenTtlSeconds,
      limit: revocationPage,
    });
    return {
      items: page.items.map(encodeRevocation),
      next_since: page.hasMore ? (page.items.at(-1)?.revokedAt.toISOString() ?? null) : null,
    };
  });

  return [exportData, erase, list, deactivate, reactivate, revokeSessions, revokeApiKeys, revocations];
}
