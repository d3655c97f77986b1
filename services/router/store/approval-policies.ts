import type { Queryable } from './db.js';

export type TimeoutAction = 'expire' | 'escalate';

export interface ApprovalPolicy {
  readonly workspace_id: string;
  readonly timeout_seconds_destructive: number;
  readonly timeout_seconds_irreversible: number;
  readonly on_timeout_destructive: TimeoutAction;
  readonly on_timeout_irreversible: TimeoutAction;
  readonly allow_self_approval: boolean;
  readonly escalation_reviewers: readonly string[];
  readonly updated_at: Date | null;
}

export type PolicyChange = Partial<Omit<ApprovalPolicy, 'workspace_id' | 'updated_at'>>;

/** What a workspace without a stored policy gets (ARCHITECTURE §7). */
export function defaultPolicy(workspaceId: string): ApprovalPolicy {
  return {
    workspace_id: workspaceId,
    timeout_seconds_destructive: 900,
    timeout_seconds_irreversible: 3600,
    on_timeout_destructive: 'expire',
    on_timeout_irreversible: 'expire',
    allow_self_approval: false,
    escalation_reviewers: [],
    updated_at: null,
  };
}

const COLUMNS = `workspace_id, timeout_seconds_destructive, timeout_seconds_irreversible, on_timeout_destructive, on_timeout_irreversible,
  allow_self_approval, escalation_reviewers, updated_at`;

export async function findPolicy(db: Queryable, workspaceId: string): Promise<ApprovalPolicy> {
  const found = await db.query<ApprovalPolicy>(`SELECT ${COLUMNS} FROM approval_policies WHERE workspace_id = $1`, [
    workspaceId,
  ]);
  return found.rows[0] ?? defaultPolicy(workspaceId);
}

/** Stores the whole policy: the current one (or the defaults) with the change applied. */
export async function savePolicy(
  db: Queryable,
  projectId: string,
  workspaceId: string,
  change: PolicyChange,
): Promise<ApprovalPolicy> {
  const next = { ...(await findPolicy(db, workspaceId)), ...change };
  const saved = await db.query<ApprovalPolicy>(
    `INSERT INTO approval_policies (workspace_id, project_id, timeout_seconds_destructive, timeout_seconds_irreversible, on_timeout_destructive,
       on_timeout_irreversible, allow_self_approval, escalation_reviewers)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (workspace_id) DO UPDATE SET timeout_seconds_destructive = $3, timeout_seconds_irreversible = $4, on_timeout_destructive = $5,
       on_timeout_irreversible = $6, allow_self_approval = $7, escalation_reviewers = $8, updated_at = now()
     RETURNING ${COLUMNS}`,
    [
      workspaceId,
      projectId,
      next.timeout_seconds_destructive,
      next.timeout_seconds_irreversible,
      next.on_timeout_destructive,
      next.on_timeout_irreversible,
      next.allow_self_approval,
      next.escalation_reviewers,
    ],
  );
  return saved.rows[0]!;
}
