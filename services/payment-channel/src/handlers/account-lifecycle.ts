import { endpoint, type Registration } from '@zerostate/bus';
import { accountExportLimit, type Principal, paymentEndpoints, paymentEvents } from '@zerostate/contracts';
import { enqueueEvent, inTransaction } from '@zerostate/database';
import { AppError } from '@zerostate/errors';
import { writeAudit } from '../db/audit.js';
import { listChannels } from '../db/channels.js';
import { ensureAccount, findAccount, listEntries, lockedInChannels } from '../db/ledger.js';
import { originOf, type PaymentDependencies } from './dependencies.js';
import { encodeBalance, encodeChannel, encodeHistoryItem } from './encode.js';

/**
 * Closing and exporting an account happen for its owner's erasure and data export, which the auth
 * service runs; the contract lists it as the one service caller (the adapter refuses others), and
 * no user principal, however privileged, calls these.
 */
function requireAccountService(principal: Principal | undefined): Principal {
  if (!principal) throw new AppError('UNAUTHENTICATED');
  if (principal.kind !== 'service') throw new AppError('FORBIDDEN');
  return principal;
}

/** account.close, account.export: an owner's account at the end of its life, and its data. */
export function accountLifecycleRegistrations(dependencies: PaymentDependencies): Registration[] {
  const { prisma } = dependencies;

  const close = endpoint(paymentEndpoints.closeAccount, async (input, context) => {
    const caller = requireAccountService(context.principal);
    const closed = await inTransaction(prisma, async (transaction) => {
      const { id } = await ensureAccount(transaction, input.owner_did);
      // FOR UPDATE waits for every transaction that changes the balance or promises the account
      // money (a channel to it takes FOR KEY SHARE); what follows sees what they committed.
      const [account] = await transaction.$queryRaw<
        { available: bigint; held: bigint; closed_at: Date | null }[]
      >`SELECT available, held, closed_at FROM accounts WHERE id = ${id}::uuid FOR UPDATE`;
      if (account!.closed_at) return { closedAt: account!.closed_at, changed: false };
      const openChannels = await transaction.paymentChannel.count({
        where: { status: 'open', OR: [{ payerAccountId: id }, { payeeAccountId: id }] },
      });
      if (BigInt(account!.available) > 0n || BigInt(account!.held) > 0n || openChannels > 0) {
        throw new AppError('ACCOUNT_NOT_EMPTY', undefined, {
          details: {
            available: Number(account!.available),
            held: Number(account!.held),
            open_channels: openChannels,
          },
        });
      }
      const { closedAt } = await transaction.account.update({
        where: { id },
        data: { closedAt: new Date() },
        select: { closedAt: true },
      });
      await writeAudit(transaction, originOf(context), {
        action: 'payment.account.close',
        actorDid: caller.did,
        targetId: input.owner_did,
        metadata: {},
      });
      await enqueueEvent(transaction, paymentEvents.accountClosed, {
        owner_did: input.owner_did,
        closed_at: closedAt!.toISOString(),
      });
      return { closedAt: closedAt!, changed: true };
    });
    if (closed.changed) dependencies.kickOutbox();
    return { owner_did: input.owner_did, closed_at: closed.closedAt.toISOString() };
  });

  const exportAccount = endpoint(paymentEndpoints.exportAccount, async (input, context) => {
    requireAccountService(context.principal);
    const account = await findAccount(prisma, input.owner_did);
    const [closedAt, inChannels, history, channels] = account
      ? await Promise.all([
          prisma.account.findUnique({ where: { id: account.id }, select: { closedAt: true } }),
          lockedInChannels(prisma, account.id),
          listEntries(prisma, { accountId: account.id, limit: accountExportLimit }),
          listChannels(prisma, { did: input.owner_did, limit: accountExportLimit }),
        ])
      : [null, 0n, { items: [], hasMore: false }, { items: [], hasMore: false }];
    return {
      balance: encodeBalance(input.owner_did, account, inChannels),
      closed_at: closedAt?.closedAt?.toISOString() ?? null,
      history: history.items.map(encodeHistoryItem),
      channels: channels.items.map(encodeChannel),
      truncated: history.hasMore || channels.hasMore,
    };
  });

  return [close, exportAccount];
}
