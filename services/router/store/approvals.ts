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

/** One person's decision on an approval, with the key and channel it came through. */
export interface ApprovalDecision {
  readonly approval_id: string;
  readonly principal_id: string;
  readonly key_id: string;
  readonly channel: 'api' | 'ui' | 'cli' | 'chat';
  readonly verdict: 'approve' | 'reject';
  readonly note: string | null;
  readonly at: Date;
}

export async function insertApproval(
  db: Queryable,
  approval: Pick<
    ApprovalRecord,
    | 'id'
    | 'project_id'
    | 'workspace_id'
    | 'invocation_id'
    | 'request_hash'
    | 'risk'
    | 'requested_by'
    | 'requested_by_principal'
    | 'origin'
    | 'min_approvers'
    | 'expires_at'
  >,
): Promise<ApprovalRecord> {
  const inserted = await db.query<ApprovalRecord>(
    `INSERT INTO approvals (id, project_id, workspace_id, invocation_id, request_hash, risk, requested_by, expires_at,
       requested_by_principal, origin, min_approvers)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *`,
    [
      approval.id,
      approval.project_id,
      approval.workspace_id,
      approval.invocation_id,
      approval.request_hash,
      approval.risk,
      approval.requested_by,
      approval.expires_at,
      approval.requested_by_principal,
      approval.origin,
      approval.min_approvers,
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

export async function insertDecision(db: Queryable, decision: Omit<ApprovalDecision, 'at'>): Promise<void> {
  await db.query(
    `INSERT INTO approval_decisions (approval_id, principal_id, key_id, channel, verdict, note) VALUES ($1, $2, $3, $4, $5, $6)`,
    [decision.approval_id, decision.principal_id, decision.key_id, decision.channel, decision.verdict, decision.note],
  );
}

/** Decisions on approvals, oldest first, with each decider's name. */
export async function decisionsOf(
  db: Queryable,
  approvalIds: readonly string[],
): Promise<(ApprovalDecision & { principal_name: string; principal_kind: string })[]> {
  if (approvalIds.length === 0) return [];
  const found = await db.query<ApprovalDecision & { principal_name: string; principal_kind: string }>(
    `SELECT d.*, p.display_name AS principal_name, p.kind AS principal_kind
       FROM approval_decisions d JOIN principals p ON p.id = d.principal_id
      WHERE d.approval_id = ANY ($1) ORDER BY d.at, d.principal_id`,
    [approvalIds],
  );
  return found.rows;
}
