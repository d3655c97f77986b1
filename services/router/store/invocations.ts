import type { TraceCarrier } from '../../runtime/tracing.js';
import type { InvocationState, Risk } from '../exec/invocation-state.js';
import type { Queryable } from './db.js';

export interface InvocationResultSummary {
  readonly status: string;
  readonly exit_code: number | null;
  readonly duration_ms: number;
  readonly output_bytes: number;
  readonly output_truncated: boolean;
  readonly error: { code: string; message: string } | null;
}

export interface InvocationRecord {
  readonly id: string;
  readonly project_id: string;
  readonly workspace_id: string;
  readonly tool: string;
  readonly risk: Risk;
  readonly args: Record<string, unknown>;
  readonly request_hash: string;
  readonly requested_by: string;
  /** The person who asked (or the chat's user, when the model proposed the call). */
  readonly requested_by_principal: string | null;
  readonly origin: 'direct' | 'chat';
  readonly state: InvocationState;
  readonly attempt: number;
  readonly agent_id: string | null;
  readonly timeout_ms: number;
  readonly result: InvocationResultSummary | null;
  readonly created_at: Date;
  readonly updated_at: Date;
  readonly queued_at: Date | null;
  readonly dispatched_at: Date | null;
  readonly finished_at: Date | null;
  /** The W3C trace context of the request that made the call (its dispatch and run continue it). */
  readonly trace: TraceCarrier | null;
}

export type NewInvocation = Pick<
  InvocationRecord,
  | 'id'
  | 'project_id'
  | 'workspace_id'
  | 'tool'
  | 'risk'
  | 'args'
  | 'request_hash'
  | 'requested_by'
  | 'requested_by_principal'
  | 'origin'
  | 'state'
  | 'timeout_ms'
  | 'trace'
>;

/** Locks the row for a transition; with a project, only that project's. */
export async function lockInvocation(
  db: Queryable,
  id: string,
  projectId?: string,
): Promise<InvocationRecord | undefined> {
  const found = await db.query<InvocationRecord>({
    name: 'lock_invocation',
    text: 'SELECT * FROM invocations WHERE id = $1 AND ($2::text IS NULL OR project_id = $2) FOR UPDATE',
    values: [id, projectId ?? null],
  });
  return found.rows[0];
}

export async function findInvocation(
  db: Queryable,
  projectId: string,
  id: string,
): Promise<InvocationRecord | undefined> {
  const found = await db.query<InvocationRecord>('SELECT * FROM invocations WHERE id = $1 AND project_id = $2', [
    id,
    projectId,
  ]);
  return found.rows[0];
}

export interface InvocationChange {
  readonly state: InvocationState;
  readonly attempt: number;
  readonly agent_id?: string | null;
  readonly result?: InvocationResultSummary;
}

export interface InvocationFilter {
  readonly state?: InvocationState;
  readonly tool?: string;
  readonly risk?: Risk;
  readonly workspace_id?: string;
  readonly after?: string;
  readonly limit: number;
}

/** Newest first; every filter is a bound parameter. */
export async function listInvocations(
  db: Queryable,
  projectId: string,
  filter: InvocationFilter,
): Promise<InvocationRecord[]> {
  const found = await db.query<InvocationRecord>(
    `SELECT * FROM invocations
      WHERE project_id = $1 AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR tool = $3) AND ($4::text IS NULL OR risk = $4)
        AND ($5::text IS NULL OR workspace_id = $5)
        AND ($6::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM invocations WHERE id = $6 AND project_id = $1))
      ORDER BY created_at DESC, id DESC LIMIT $7`,
    [
      projectId,
      filter.state ?? null,
      filter.tool ?? null,
      filter.risk ?? null,
      filter.workspace_id ?? null,
      filter.after ?? null,
      filter.limit,
    ],
  );
  return found.rows;
}
