import { z } from 'zod';

/** The auction service's own settings, read at boot beside the kit's (database, admin port, NATS). */
export const auctionConfigSchema = z.object({
  /** Agents heartbeat this often; one that missed three is marked offline (SPEC §4.3). */
  AGENT_HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** How often replicas look for auctions past expires_at; the close delay is at most about this. */
  AUCTION_CLOSE_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(500),
});
