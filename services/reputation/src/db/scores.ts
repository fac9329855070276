import { reputationEvents } from '@zerostate/contracts';
import { enqueueEvent, type OutboxWriter } from '@zerostate/database';
import { type DisplayedScores, displayScores, toHundredths } from '../domain/explanation.js';
import { computeScores } from '../domain/scoring.js';
import { type AgentRecord, agentColumns, toAgentRecord } from './agents.js';
import { loadEvidence, reciprocalRequesters } from './evidence.js';
import type { Sql } from './sql.js';

/** An agent's scores computed now from its evidence, rounded for display with the explanation. */
export async function scoresNow(
  sql: Sql,
  agentId: string,
  ownerId: string | null,
  now: Date,
): Promise<DisplayedScores> {
  const [evidence, reciprocal] = await Promise.all([
    loadEvidence(sql, agentId),
    reciprocalRequesters(sql, ownerId),
  ]);
  return displayScores(computeScores(evidence, now, reciprocal));
}

/**
 * Recomputes the agent's stored score at `now`. When a shown value changed, the row's version
 * rises and `evt.reputation.score.updated` is enqueued in the same transaction. Returns whether
 * it changed. The row is locked, so concurrent rescoring of one agent serialises.
 */
export async function rescore(
  client: Sql & OutboxWriter,
  agent: { agentId: string; ownerId: string | null },
  now: Date,
): Promise<boolean> {
  const shown = await scoresNow(client, agent.agentId, agent.ownerId, now);
  const next = {
    overall: toHundredths(shown.overall),
    reliability: toHundredths(shown.reliability),
    quality: toHundredths(shown.quality),
    speed: toHundredths(shown.speed),
  };
  const { rows } = await client.query<{
    overall_hundredths: number;
    reliability_hundredths: number;
    quality_hundredths: number;
    speed_hundredths: number;
  }>('SELECT * FROM scores WHERE agent_id = $1 FOR UPDATE', [agent.agentId]);
  const stored = rows[0];
  const same =
    stored !== undefined &&
    stored.overall_hundredths === next.overall &&
    stored.reliability_hundredths === next.reliability &&
    stored.quality_hundredths === next.quality &&
    stored.speed_hundredths === next.speed;
  if (same) {
    await client.query('UPDATE scores SET computed_at = $2 WHERE agent_id = $1', [agent.agentId, now]);
    return false;
  }
  // The version is raised in SQL, so even two first scores of one agent written at once (the
  // row lock above cannot hold a row that does not exist yet) get versions 1 and 2.
  const written = await client.query<{ version: string }>(
    `INSERT INTO scores (agent_id, overall_hundredths, reliability_hundredths, quality_hundredths, speed_hundredths, version, computed_at)
     VALUES ($1, $2, $3, $4, $5, 1, $6)
     ON CONFLICT (agent_id) DO UPDATE SET overall_hundredths = EXCLUDED.overall_hundredths,
       reliability_hundredths = EXCLUDED.reliability_hundredths, quality_hundredths = EXCLUDED.quality_hundredths,
       speed_hundredths = EXCLUDED.speed_hundredths, version = scores.version + 1, computed_at = EXCLUDED.computed_at
     RETURNING version`,
    [agent.agentId, next.overall, next.reliability, next.quality, next.speed, now],
  );
  const version = Number(written.rows[0]!.version);
  await enqueueEvent(client, reputationEvents.scoreUpdated, {
    agent_id: agent.agentId,
    overall: shown.overall,
    reliability: shown.reliability,
    quality: shown.quality,
    speed: shown.speed,
    version,
    updated_at: now.toISOString(),
  });
  return true;
}

/** One leaderboard row: the agent and its stored score. */
export interface RankedAgent {
  agent: AgentRecord;
  overall: number;
  reliability: number;
  quality: number;
  speed: number;
  computedAt: Date;
}

/** The position after which a leaderboard page continues: (overall in hundredths, agent id). */
export interface LeaderboardCursor {
  overallHundredths: number;
  agentId: string;
}

/**
 * Agents best first by stored overall score, ties by agent id, after `cursor`. Keyset
 * pagination: a page never repeats or skips an agent whose score did not change meanwhile.
 */
export async function leaderboard(
  sql: Sql,
  options: { capability?: string | undefined; limit: number; after?: LeaderboardCursor | undefined },
): Promise<RankedAgent[]> {
  const parameters: unknown[] = [options.limit];
  const filters: string[] = [];
  if (options.capability !== undefined) {
    parameters.push([options.capability]);
    filters.push(`a.capabilities @> $${parameters.length}::text[]`);
  }
  if (options.after) {
    parameters.push(options.after.overallHundredths, options.after.agentId);
    const overall = `$${parameters.length - 1}::int`;
    const agentId = `$${parameters.length}::uuid`;
    filters.push(
      `(s.overall_hundredths < ${overall} OR (s.overall_hundredths = ${overall} AND s.agent_id > ${agentId}))`,
    );
  }
  const { rows } = await sql.query(
    `SELECT ${agentColumns}, s.overall_hundredths, s.reliability_hundredths, s.quality_hundredths,
            s.speed_hundredths, s.computed_at
     FROM scores s JOIN agent_performance a ON a.agent_id = s.agent_id
     ${filters.length > 0 ? `WHERE ${filters.join(' AND ')}` : ''}
     ORDER BY s.overall_hundredths DESC, s.agent_id ASC
     LIMIT $1`,
    parameters,
  );
  return rows.map((row) => ({
    agent: toAgentRecord(row),
    overall: row.overall_hundredths / 100,
    reliability: row.reliability_hundredths / 100,
    quality: row.quality_hundredths / 100,
    speed: row.speed_hundredths / 100,
    computedAt: row.computed_at,
  }));
}

/** Agents whose stored score was computed before `before`, oldest first: the decay job's work. */
export async function staleScores(
  sql: Sql,
  before: Date,
  limit: number,
): Promise<{ agentId: string; ownerId: string | null }[]> {
  const { rows } = await sql.query<{ agent_id: string; owner_id: string | null }>(
    `SELECT s.agent_id, a.owner_id FROM scores s LEFT JOIN agent_performance a ON a.agent_id = s.agent_id
     WHERE s.computed_at < $1 ORDER BY s.computed_at LIMIT $2`,
    [before, limit],
  );
  return rows.map((row) => ({ agentId: row.agent_id, ownerId: row.owner_id }));
}
