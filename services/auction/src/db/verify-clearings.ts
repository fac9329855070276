import { clearingSchema } from '@zerostate/contracts';
import pg from 'pg';
import { type ClearingDifference, verifyClearing } from '../domain/clearing.js';

export interface ClearingReport {
  auctionId: string;
  status: string;
  differences: ClearingDifference[];
}

const pageSize = 500;

/**
 * Recomputes the stored clearing of every closed auction (or of `ids`) and reports those that
 * differ. Reads only; pages by (closed_at, id), so it runs against a live database.
 */
export async function verifyStoredClearings(
  connectionString: string,
  options: { ids?: readonly string[] } = {},
): Promise<{ checked: number; differing: ClearingReport[] }> {
  const client = new pg.Client({ connectionString, application_name: 'auction-verify-clearings' });
  await client.connect();
  try {
    let checked = 0;
    const differing: ClearingReport[] = [];
    let after: { closedAt: Date; id: string } | undefined;
    for (;;) {
      const { rows } = await client.query<{
        id: string;
        status: string;
        closed_at: Date;
        winner_bid_id: string | null;
        price: string | null;
        clearing: unknown;
      }>(
        `SELECT id::text, status, closed_at, winner_bid_id::text, price::text, clearing
         FROM auctions
         WHERE status IN ('awarded', 'expired')
           AND ($1::uuid[] IS NULL OR id = ANY($1::uuid[]))
           AND ($2::timestamptz IS NULL OR (closed_at, id) > ($2::timestamptz, $3::uuid))
         ORDER BY closed_at, id LIMIT $4`,
        [options.ids ?? null, after?.closedAt ?? null, after?.id ?? null, pageSize],
      );
      for (const row of rows) {
        checked += 1;
        const parsed = clearingSchema.safeParse(row.clearing);
        const differences = parsed.success
          ? verifyClearing(parsed.data, {
              winnerBidId: row.winner_bid_id,
              price: row.price === null ? null : BigInt(row.price),
            })
          : [{ path: 'clearing', stored: row.clearing, recomputed: 'a record in the §5b clearing shape' }];
        if (differences.length > 0) differing.push({ auctionId: row.id, status: row.status, differences });
      }
      if (rows.length < pageSize) return { checked, differing };
      const last = rows[rows.length - 1]!;
      after = { closedAt: last.closed_at, id: last.id };
    }
  } finally {
    await client.end();
  }
}
