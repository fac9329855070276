import type { Performance, ScoreView } from '@zerostate/contracts';
import type { AgentRecord } from '../db/agents.js';
import type { DisplayedScores } from '../domain/explanation.js';

/** The mean of the 1–5 ratings to two decimals, null without any. */
function ratingAverage(agent: AgentRecord | undefined): number | null {
  if (!agent || agent.ratingsCount === 0) return null;
  return Math.round((agent.ratingsSum / agent.ratingsCount) * 100) / 100;
}

export function encodeScore(
  agentId: string,
  shown: DisplayedScores,
  agent: AgentRecord | undefined,
): ScoreView {
  return {
    agent_id: agentId,
    overall: shown.overall,
    reliability: shown.reliability,
    quality: shown.quality,
    speed: shown.speed,
    tasks: {
      total: agent?.totalTasks ?? 0,
      completed: agent?.successfulTasks ?? 0,
      failed: agent?.failedTasks ?? 0,
      timed_out: agent?.timedOutTasks ?? 0,
    },
    ratings: { count: agent?.ratingsCount ?? 0, average: ratingAverage(agent) },
    explanation: shown.explanation,
    updated_at: agent ? agent.updatedAt.toISOString() : null,
  };
}

export function encodePerformance(
  agentId: string,
  overall: number,
  agent: AgentRecord | undefined,
): Performance {
  const total = agent?.totalTasks ?? 0;
  const successful = agent?.successfulTasks ?? 0;
  return {
    agent_id: agentId,
    reputation: overall,
    total_tasks: total,
    successful_tasks: successful,
    failed_tasks: agent?.failedTasks ?? 0,
    timed_out_tasks: agent?.timedOutTasks ?? 0,
    success_rate: total === 0 ? null : Math.round((successful / total) * 10_000) / 10_000,
    bids_submitted: agent?.bidsSubmitted ?? 0,
    auctions_won: agent?.auctionsWon ?? 0,
  };
}
