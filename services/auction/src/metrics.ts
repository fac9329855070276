import { counter, gauge, histogram, type Registry } from '@zerostate/observability';
import type { CloseOutcome } from './db/closing.js';
import type { AuctionPrisma } from './db/prisma.js';

/**
 * The auction domain's metrics (SPEC §6): auctions open, closed by outcome, bids by result, time
 * from expiry to close.
 */
export type AuctionMetrics = ReturnType<typeof createAuctionMetrics>;

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
  const bids = counter(
    registry,
    'auction_bids_total',
    'Bids answered: placed (new or replacing the agent’s live bid) or the refusal’s error code.',
    ['result'],
  );
  const open = gauge(registry, 'auction_auctions_open', 'Auctions open, as the last close run counted them.');
  return {
    /** Counts open auctions (the close job calls it on each run it does). */
    async countOpen() {
      open.set(await prisma.auction.count({ where: { status: 'open' } }));
    },
    /** `placed`, or the stable code a bid was refused with (a bounded set: the catalog's). */
    bid(result: string) {
      bids.inc({ result });
    },
    closed(outcome: CloseOutcome) {
      closedTotal.inc({ outcome: outcome.outcome });
      lateness.observe(Math.max(0, outcome.lateMs) / 1000);
    },
  };
}
