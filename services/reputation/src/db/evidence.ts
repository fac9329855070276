import type { Evidence, ReciprocalRequesters } from '../domain/scoring.js';
import type { Sql } from './sql.js';

export type EvidenceKind = 'completed' | 'failed' | 'timed_out' | 'rating';

/**
 * Stores one piece of evidence. At most one per (task, kind): a task outcome the producer sent
 * twice under two event ids still counts once. Returns false when it was already there.
 */
export async function insertEvidence(
  sql: Sql,
  row: { id: string; agentId: string; taskId: string; kind: EvidenceKind; evidence: Evidence },
): Promise<boolean> {
  const { evidence } = row;
  const result = await sql.query(
    `INSERT INTO score_events
       (id, agent_id, requester_id, task_id, kind, amount_micro, occurred_at, self_dealt, reliability, quality, speed)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT DO NOTHING`,
    [
      row.id,
      row.agentId,
      evidence.requesterId,
      row.taskId,
      row.kind,
      evidence.amountMicro.toString(),
      evidence.occurredAt,
      evidence.selfDealt,
      evidence.reliability,
      evidence.quality,
      evidence.speed,
    ],
  );
  return result.rowCount === 1;
}

interface EvidenceRow {
  requester_id: string;
  amount_micro: string;
  occurred_at: Date;
  self_dealt: boolean;
  reliability: number | null;
  quality: number | null;
  speed: number | null;
}

/**
 * Every piece of evidence about one agent. Read whole: evidence older than about eight
 * half-lives weighs under 0.4%, so a compaction job is the next step when records grow large.
 */
export async function loadEvidence(sql: Sql, agentId: string): Promise<Evidence[]> {
  const { rows } = await sql.query<EvidenceRow>(
    `SELECT requester_id, amount_micro, occurred_at, self_dealt, reliability, quality, speed
     FROM score_events WHERE agent_id = $1`,
    [agentId],
  );
  return rows.map((row) => ({
    requesterId: row.requester_id,
    amountMicro: BigInt(row.amount_micro),
    occurredAt: row.occurred_at,
    selfDealt: row.self_dealt,
    reliability: row.reliability,
    quality: row.quality,
    speed: row.speed,
  }));
}

/** Records that `requesterId` paid for work by an agent of `ownerId`; true when it is new. */
export async function recordDealing(sql: Sql, requesterId: string, ownerId: string): Promise<boolean> {
  if (requesterId === ownerId) return false;
  const result = await sql.query(
    'INSERT INTO dealings (requester_id, owner_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
    [requesterId, ownerId],
  );
  return result.rowCount === 1;
}

/** Everyone whose agents `ownerId` paid: their evidence about `ownerId`'s agents is reciprocal. */
export async function reciprocalRequesters(sql: Sql, ownerId: string | null): Promise<ReciprocalRequesters> {
  if (ownerId === null) return new Set();
  const { rows } = await sql.query<{ owner_id: string }>(
    'SELECT owner_id FROM dealings WHERE requester_id = $1',
    [ownerId],
  );
  return new Set(rows.map((row) => row.owner_id));
}

/**
 * The agents a new dealing makes reciprocal evidence for: agents owned by `requesterId` that
 * hold evidence from `ownerId`. Their scores change although no event named them.
 */
export async function agentsWithEvidenceFrom(
  sql: Sql,
  agentOwnerId: string,
  requesterId: string,
): Promise<string[]> {
  const { rows } = await sql.query<{ agent_id: string }>(
    `SELECT DISTINCT e.agent_id FROM score_events e
     JOIN agent_performance a ON a.agent_id = e.agent_id
     WHERE a.owner_id = $1 AND e.requester_id = $2`,
    [agentOwnerId, requesterId],
  );
  return rows.map((row) => row.agent_id);
}
