import type { Queryable } from './db.js';

/** A loop turn that ended waiting for people; resumed once all of its approvals are decided. */
export interface ParkedTurn {
  readonly response_id: string;
  readonly project_id: string;
  readonly endpoint_id: string;
  readonly approval_ids: string[];
  /** The Responses body of the turn, without its input. */
  readonly request: Record<string, unknown>;
  readonly principal_id: string;
  readonly key_id: string;
  readonly chat_id: string | null;
  readonly branch_id: string | null;
}

export async function parkTurn(db: Queryable, turn: ParkedTurn): Promise<void> {
  await db.query({
    name: 'park_turn',
    text: `INSERT INTO parked_turns (response_id, project_id, endpoint_id, approval_ids, request, principal_id, key_id, chat_id, branch_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    values: [
      turn.response_id,
      turn.project_id,
      turn.endpoint_id,
      turn.approval_ids,
      JSON.stringify(turn.request),
      turn.principal_id,
      turn.key_id,
      turn.chat_id,
      turn.branch_id,
    ],
  });
}

/**
 * A later turn took these approvals over (it answers them, or asks for them again): an earlier
 * turn parked on nothing but them is not resumed (one that also waits on others still is).
 */
export async function unparkApprovals(db: Queryable, projectId: string, approvalIds: readonly string[]): Promise<void> {
  if (approvalIds.length === 0) return;
  await db.query({
    name: 'unpark_approvals',
    text: 'DELETE FROM parked_turns WHERE project_id = $1 AND approval_ids <@ $2::text[]',
    values: [projectId, approvalIds],
  });
}

/**
 * Claims the parked turns waiting on this approval (or, without one, on any approval) whose
 * approvals are all decided: the row is deleted as it is returned, so of several routers
 * exactly one resumes each turn.
 */
export async function claimDecided(db: Queryable, approvalId: string | null, limit = 20): Promise<ParkedTurn[]> {
  const found = await db.query<ParkedTurn>({
    name: 'claim_decided_turns',
    // The response reads in_progress from the claim on, so a client replaying its stream waits for it.
    text: `WITH claimed AS (
             DELETE FROM parked_turns WHERE response_id IN (
               SELECT p.response_id FROM parked_turns p
                WHERE ($1::text IS NULL OR $1 = ANY (p.approval_ids))
                  AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.id = ANY (p.approval_ids) AND a.state = 'pending')
                ORDER BY p.created_at LIMIT $2
                FOR UPDATE SKIP LOCKED)
             RETURNING response_id, project_id, endpoint_id, approval_ids, request, principal_id, key_id, chat_id, branch_id),
           running AS (
             UPDATE responses r SET status = 'in_progress', updated_at = now() FROM claimed c WHERE r.id = c.response_id)
           SELECT * FROM claimed`,
    values: [approvalId, limit],
  });
  return found.rows;
}

/** Whether the response waits for people (and will go on by itself once they decide). */
export async function isParked(db: Queryable, projectId: string, responseId: string): Promise<boolean> {
  const found = await db.query({
    name: 'is_parked',
    text: 'SELECT 1 FROM parked_turns WHERE project_id = $1 AND response_id = $2',
    values: [projectId, responseId],
  });
  return (found.rowCount ?? 0) > 0;
}
