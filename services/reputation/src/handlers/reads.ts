import { endpoint, type Registration } from '@zerostate/bus';
import { reputationEndpoints } from '@zerostate/contracts';
import { AppError } from '@zerostate/errors';
import { findAgents } from '../db/agents.js';
import { type LeaderboardCursor, leaderboard, scoresNow } from '../db/scores.js';
import type { Sql } from '../db/sql.js';
import type { ReputationDependencies } from './dependencies.js';
import { encodePerformance, encodeScore } from './encode.js';

/** A leaderboard cursor is `<overall in hundredths>:<agent id>`, base64url-encoded. */
export function encodeCursor(cursor: LeaderboardCursor): string {
  return Buffer.from(`${cursor.overallHundredths}:${cursor.agentId}`).toString('base64url');
}

export function decodeCursor(cursor: string): LeaderboardCursor {
  const match = /^(\d{1,5}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(
    Buffer.from(cursor, 'base64url').toString('utf8'),
  );
  if (!match || Number(match[1]) > 10_000) {
    throw new AppError('VALIDATION_FAILED', 'The cursor is not valid.', { details: [{ path: 'cursor' }] });
  }
  return { overallHundredths: Number(match[1]), agentId: match[2]! };
}

async function scoreViews(sql: Sql, agentIds: readonly string[], now: Date) {
  const agents = await findAgents(sql, agentIds);
  return Promise.all(
    agentIds.map(async (agentId) => {
      const agent = agents.get(agentId);
      return encodeScore(agentId, await scoresNow(sql, agentId, agent?.ownerId ?? null, now), agent);
    }),
  );
}

/** get, get-many, leaderboard, performance: public reads (no principal needed). */
export function readRegistrations({ pool, clock }: ReputationDependencies): Registration[] {
  const get = endpoint(reputationEndpoints.get, async (input) => {
    const [view] = await scoreViews(pool, [input.agent_id], clock());
    return view!;
  });

  const getMany = endpoint(reputationEndpoints.getMany, async (input) => ({
    items: await scoreViews(pool, [...new Set(input.agent_ids)], clock()),
  }));

  const board = endpoint(reputationEndpoints.leaderboard, async (input) => {
    const after = input.cursor === undefined ? undefined : decodeCursor(input.cursor);
    const rows = await leaderboard(pool, { capability: input.capability, limit: input.limit + 1, after });
    const page = rows.slice(0, input.limit);
    const last = page.at(-1);
    return {
      items: page.map((row) => ({
        agent_id: row.agent.agentId,
        owner_id: row.agent.ownerId,
        capabilities: row.agent.capabilities,
        overall: row.overall,
        reliability: row.reliability,
        quality: row.quality,
        speed: row.speed,
        total_tasks: row.agent.totalTasks,
        updated_at: row.computedAt.toISOString(),
      })),
      next_cursor:
        rows.length > input.limit && last
          ? encodeCursor({ overallHundredths: Math.round(last.overall * 100), agentId: last.agent.agentId })
          : null,
    };
  });

  const performance = endpoint(reputationEndpoints.performance, async (input) => {
    const agent = (await findAgents(pool, [input.id])).get(input.id);
    const shown = await scoresNow(pool, input.id, agent?.ownerId ?? null, clock());
    return encodePerformance(input.id, shown.overall, agent);
  });

  return [get, getMany, board, performance];
}
