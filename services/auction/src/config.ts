import { z } from 'zod';

/** The auction service's own settings, read at boot beside the kit's (database, admin port, NATS). */
export const auctionConfigSchema = z.object({});
