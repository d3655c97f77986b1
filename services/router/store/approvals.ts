import type { ApprovalFacts } from '../exec/approval-rules.js';
import type { Queryable } from './db.js';

export interface ApprovalRecord extends ApprovalFacts {
  readonly id: string;
  readonly project_id: string;
  readonly workspace_id: string;
  readonly invocation_id: string;
  readonly decided_by: string | null;
  readonly decided_at: Date | null;
  readonly note: string | null;
  readonly created_at: Date;
}

export async function insertApproval(
  db: Queryable,
  approval: Pick<
    ApprovalRecord,
    'id' | 'project_id' | 'workspace_id' | 'invocation_id' | 'request_hash' | 'risk' | 'requested_by' | 'expires_at'
  >,
): Promise<ApprovalRecord> {
  const inserted = await db.query<ApprovalRecord>(
    `INSERT INTO approvals (id, project_id, workspace_id, invocation_id, request_hash, risk, requested_by, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
    [
      approval.id,
      approval.project_id,
      approval.workspace_id,
      approval.invocation_id,
      approval.request_hash,
      approval.risk,
      approval.requested_by,
      approval.expires_at,
    ],
  );
  return inserted.rows[0]!;
}

export async function lockApproval(db: Queryable, projectId: string, id: string): Promise<ApprovalRecord | undefined> {
  const found = await db.query<ApprovalRecord>('SELECT * FROM approvals WHERE id = $1 AND project_id = $2 FOR UPDATE', [
    id,
    projectId,
  ]);
  return found.rows[0];
}

export async function findApproval(db: Queryable, projectId: string, id: string): Promise<ApprovalRecord | undefined> {
  const found = await db.query<ApprovalRecord>('SELECT * FROM approvals WHERE id = $1 AND project_id = $2', [
    id,
    projectId,
  ]);
  return found.rows[0];
}

export async function findApprovalOf(db: Queryable, invocationId: string): Promise<ApprovalRecord | undefined> {
  const found = await db.query<ApprovalRecord>('SELECT * FROM approvals WHERE invocation_id = $1', [invocationId]);
  return found.rows[0];
}

/** Moves a pending approval to a decided state; false when it was no longer pending. */
export async function closeApproval(
  db: Queryable,
  id: string,
  outcome: { state: 'approved' | 'rejected' | 'expired' | 'cancelled'; decidedBy: string | null; note?: string | null },
): Promise<boolean> {
  const updated = await db.query(
    "UPDATE approvals SET state = $2, decided_by = $3, decided_at = now(), note = $4 WHERE id = $1 AND state = 'pending'",
    [id, outcome.state, outcome.decidedBy, outcome.note ?? null],
  );
  return updated.rowCount === 1;
}

export async function escalateApproval(db: Queryable, id: string, expiresAt: Date): Promise<boolean> {
  const updated = await db.query(
    "UPDATE approvals SET stage = 2, expires_at = $2 WHERE id = $1 AND state = 'pending' AND stage = 1",
    [id, expiresAt],
  );
  return updated.rowCount === 1;
}

/** Pending approvals past their deadline, locked for the sweeper; other routers skip them. */
export async function lockDueApprovals(db: Queryable, now: Date, limit = 100): Promise<ApprovalRecord[]> {
  const found = await db.query<ApprovalRecord>(
    "SELECT * FROM approvals WHERE state = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED",
    [now, limit],
  );
  return found.rows;
}

export interface ApprovalFilter {
  readonly state?: ApprovalRecord['state'];
  readonly workspace_id?: string;
  readonly after?: string;
  readonly limit: number;
}

export async function listApprovals(
  db: Queryable,
  projectId: string,
  filter: ApprovalFilter,
): Promise<ApprovalRecord[]> {
  const found = await db.query<ApprovalRecord>(
    `SELECT * FROM approvals
      WHERE project_id = $1 AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR workspace_id = $3)
        AND ($4::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM approvals WHERE id = $4 AND project_id = $1))
      ORDER BY created_at DESC, id DESC LIMIT $5`,
    [projectId, filter.state ?? null, filter.workspace_id ?? null, filter.after ?? null, filter.limit],
  );
  return found.rows;
}
