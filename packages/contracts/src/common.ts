import { z } from 'zod';

export const uuid = z.uuid();
export const timestamp = z.iso.datetime({ offset: true });
export const emptyRequest = z.strictObject({});
export const emptyResponse = z.object({});

/** Cursor pagination shared by every list: `limit` is capped at 100. */
export const pageRequest = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
};

export function pageOf<Item extends z.ZodType>(item: Item) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable() });
}
