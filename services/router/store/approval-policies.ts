import type { Queryable } from './db.js';

export type TimeoutAction = 'expire' | 'escalate';

export interface ApprovalPolicy {
  readonly workspace_id: string;
  readonly timeout_seconds_destructive: number;
  readonly timeout_seconds_irreversible: number;
  readonly on_timeout_destructive: TimeoutAction;
  readonly on_timeout_irreversible: TimeoutAction;
  /** A person who asked for a destructive call directly may approve it too (never an irreversible one). */
  readonly allow_self_approval: boolean;
  /** The chat's user may approve a destructive call the model proposed (never an irreversible one). */
  readonly chat_user_may_approve: boolean;
  readonly min_approvers_destructive: number;
  readonly min_approvers_irreversible: number;
  /** Principals who may decide; empty: anyone with the approver role. */
  readonly approvers: readonly string[];
  /** Principals who may decide an escalated approval; empty: the approvers as above. */
  readonly escalation_reviewers: readonly string[];
  readonly approval_required_read: boolean;
  readonly approval_required_write: boolean;
  readonly updated_at: Date | null;
}

export type PolicyChange = Partial<Omit<ApprovalPolicy, 'workspace_id' | 'updated_at'>>;

/** What a workspace without a stored policy gets (docs/identity.md, Approval rules). */
export function defaultPolicy(workspaceId: string): ApprovalPolicy {
  return {
    workspace_id: workspaceId,
    timeout_seconds_destructive: 900,
    timeout_seconds_irreversible: 3600,
    on_timeout_destructive: 'expire',
    on_timeout_irreversible: 'expire',
    allow_self_approval: false,
    chat_user_may_approve: true,
    min_approvers_destructive: 1,
    min_approvers_irreversible: 1,
    approvers: [],
    escalation_reviewers: [],
    approval_required_read: false,
    approval_required_write: false,
    updated_at: null,
  };
}

// Stored in this order; the INSERT's placeholders follow it.
const FIELDS = [
  'timeout_seconds_destructive',
  'timeout_seconds_irreversible',
  'on_timeout_destructive',
  'on_timeout_irreversible',
  'allow_self_approval',
  'chat_user_may_approve',
  'min_approvers_destructive',
  'min_approvers_irreversible',
  'approvers',
  'escalation_reviewers',
  'approval_required_read',
  'approval_required_write',
] as const;
const COLUMNS = `workspace_id, ${FIELDS.join(', ')}, updated_at`;

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
  const placeholders = FIELDS.map((_, index) => `$${index + 3}`);
  const saved = await db.query<ApprovalPolicy>(
    `INSERT INTO approval_policies (workspace_id, project_id, ${FIELDS.join(', ')})
     VALUES ($1, $2, ${placeholders.join(', ')})
     ON CONFLICT (workspace_id) DO UPDATE SET ${FIELDS.map((field, index) => `${field} = ${placeholders[index]}`).join(', ')}, updated_at = now()
     RETURNING ${COLUMNS}`,
    [workspaceId, projectId, ...FIELDS.map((field) => next[field])],
  );
  return saved.rows[0]!;
}
