import { endpoint, type Registration } from '@zerostate/bus';
import { paymentEndpoints } from '@zerostate/contracts';
import { requireAdminSession } from '../domain/access.js';
import { originOf, type PaymentDependencies } from './dependencies.js';

/** Most days a statistics answer covers; older days need a narrower range. */
const statisticsDaysMax = 366;

/** reconciliation.run and statistics: admin reports. */
export function adminRegistrations(dependencies: PaymentDependencies): Registration[] {
  const reconcile = endpoint(paymentEndpoints.reconcile, async (_input, context) => {
    const admin = requireAdminSession(context.principal);
    return dependencies.reconciler.runNow({ did: admin.did, origin: originOf(context) });
  });

  const statistics = endpoint(paymentEndpoints.statistics, async (input, context) => {
    requireAdminSession(context.principal);
    const to = input.to ?? '9999-12-31';
    const from = input.from ?? '0001-01-01';
    const rows = await dependencies.prisma.$queryRaw<
      {
        day: Date;
        transactions: bigint;
        deposits: string;
        withdrawals: string;
        settlements: string;
        refunds: string;
        average_settlement: string;
      }[]
    >`
      SELECT day, transactions, deposits::text, withdrawals::text, settlements::text, refunds::text,
             average_settlement::text
      FROM payment_statistics WHERE day BETWEEN ${from}::date AND ${to}::date
      ORDER BY day DESC LIMIT ${statisticsDaysMax}`;
    return {
      items: rows.map((row) => ({
        day: row.day.toISOString().slice(0, 10),
        transactions: Number(row.transactions),
        deposits: row.deposits,
        withdrawals: row.withdrawals,
        settlements: row.settlements,
        refunds: row.refunds,
        average_settlement: row.average_settlement,
      })),
    };
  });

  return [reconcile, statistics];
}
