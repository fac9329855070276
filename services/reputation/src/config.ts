import { z } from 'zod';

/** The reputation service's own settings, read at boot beside the kit's (database, admin port, NATS). */
export const reputationConfigSchema = z.object({});
