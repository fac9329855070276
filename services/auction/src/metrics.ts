import { counter, gauge, histogram, type Registry } from '@zerostate/observability';
import type { CloseOutcome } from './db/closing.js';
import type { AuctionPrisma } from './db/prisma.js';

/** The auction domain's metrics (SPEC §6): auctions open, closed by outcome, time from expiry to close. */
export function createAuctionMetrics(registry: Registry, prisma: AuctionPrisma) {
  const closedTotal = counter(registry, 'auction_auctions_closed_total', 'Auctions closed, by outcome.', [
    'outcome',
  ]);
  const lateness = histogram(
    registry,
    'auction_close_delay_seconds',
    'Time from an auction’s expires_at to its close.',
    [],
  );
  const open = gauge(registry, 'auction_auctions_open', 'Auctions open, as the last close run counted them.');
  return {
    /** Counts open auctions (the close job calls it on each run it does). */
    async countOpen() {
      open.set(await prisma.auction.count({ where: { status: 'open' } }));
    },
    closed(outcome: CloseOutcome) {
      closedTotal.inc({ outcome: outcome.outcome });
      lateness.observe(Math.max(0, outcome.lateMs) / 1000);
    },
  };
}
