import { reputationEvents } from '@zerostate/contracts';
import { defineConsumer } from '@zerostate/service-kit';

/**
 * The reputation read model: every `score.updated` event, kept when its version is higher than
 * the one held (events may arrive late or twice). Scores come with two decimals; they are kept
 * in hundredths, as scoring reads them (docs/AUCTIONS.md "Reputation at close").
 */
export const scoreFeed = defineConsumer({
  name: 'score-feed',
  subject: reputationEvents.scoreUpdated.subject,
  schema: reputationEvents.scoreUpdated.payload,
  handle: async (event, { client }) => {
    const { data } = event;
    await client.query(
      `INSERT INTO agent_scores (agent_id, overall_hundredths, quality_hundredths, version, updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (agent_id) DO UPDATE SET
         overall_hundredths = EXCLUDED.overall_hundredths, quality_hundredths = EXCLUDED.quality_hundredths,
         version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
       WHERE agent_scores.version < EXCLUDED.version`,
      [
        data.agent_id,
        Math.round(data.overall * 100),
        Math.round(data.quality * 100),
        data.version,
        data.updated_at,
      ],
    );
  },
});
