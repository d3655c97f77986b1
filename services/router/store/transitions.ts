import type { AuditEntry } from './audit-log.js';
import type { Queryable } from './db.js';
import type { InvocationChange, InvocationRecord, NewInvocation } from './invocations.js';
import { FINAL_STATE_LIST, type InvocationState } from '../exec/invocation-state.js';

/**
 * One invocation transition in one statement: the conditional UPDATE, its audit entry (only if
 * the row moved) and its notification (delivered at commit). One round trip instead of three
 * on the path every call takes several times. False when the row had moved on.
 */
export async function writeTransition(
  db: Queryable,
  id: string,
  from: { state: InvocationState; attempt: number; agentId?: string },
  change: InvocationChange,
  audit: AuditEntry,
  notification: { channel: string; payload: string },
): Promise<boolean> {
  const written = await db.query<{ moved: number }>({
    name: 'write_transition',
    text: `WITH moved AS (
       UPDATE invocations SET state = $4, attempt = $5, updated_at = now(),
              agent_id = CASE WHEN $6 THEN $7 ELSE agent_id END,
              result = coalesce($8, result),
              queued_at = CASE WHEN $4 = 'queued' THEN now() ELSE queued_at END,
              dispatched_at = CASE WHEN $4 = 'dispatched' THEN now() ELSE dispatched_at END,
              finished_at = CASE WHEN $4 = ANY($18::text[]) THEN now() ELSE finished_at END
        WHERE id = $1 AND state = $2 AND attempt = $3 AND ($17::text IS NULL OR agent_id = $17) RETURNING id),
     logged AS (
       INSERT INTO execution_audit_log (project_id, actor, event, subject, detail, signature)
       SELECT $9, $10, $11, $12, $13, $14 FROM moved RETURNING position)
     SELECT count(*)::int AS moved, (SELECT count(*) FROM logged) AS logged, (SELECT pg_notify($15, $16) FROM moved) AS notified FROM moved`,
    values: [
      id,
      from.state,
      from.attempt,
      change.state,
      change.attempt,
      change.agent_id !== undefined,
      change.agent_id ?? null,
      change.result ? JSON.stringify(change.result) : null,
      audit.projectId,
      audit.actor,
      audit.event,
      audit.subject ?? null,
      JSON.stringify(audit.detail ?? {}),
      audit.signature ?? null,
      notification.channel,
      notification.payload,
      from.agentId ?? null,
      FINAL_STATE_LIST,
    ],
  });
  return written.rows[0]!.moved === 1;
}

/**
 * Inserts a new invocation with its audit entry and notifications in one statement (one round
 * trip on the path of every call).
 */
export async function insertInvocationLogged(
  db: Queryable,
  invocation: NewInvocation,
  audit: AuditEntry,
  notifications: readonly { channel: string; payload: string }[],
): Promise<InvocationRecord> {
  const inserted = await db.query<InvocationRecord & { notified: number }>({
    name: 'insert_invocation_logged',
    text: `WITH ins AS (
       INSERT INTO invocations (id, project_id, workspace_id, tool, risk, args, request_hash, requested_by, state, timeout_ms, trace,
                                requested_by_principal, origin, queued_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $16, $17, $18, CASE WHEN $9 = 'queued' THEN now() END) RETURNING *),
     logged AS (
       INSERT INTO execution_audit_log (project_id, actor, event, subject, detail) SELECT $2, $11, $12, ins.id, $13 FROM ins RETURNING 1)
     SELECT ins.*, (SELECT count(pg_notify(c, p)) FROM unnest($14::text[], $15::text[]) AS n(c, p))::int AS notified FROM ins`,
    values: [
      invocation.id,
      invocation.project_id,
      invocation.workspace_id,
      invocation.tool,
      invocation.risk,
      JSON.stringify(invocation.args),
      invocation.request_hash,
      invocation.requested_by,
      invocation.state,
      invocation.timeout_ms,
      audit.actor,
      audit.event,
      JSON.stringify(audit.via ? { ...audit.detail, via: audit.via } : (audit.detail ?? {})),
      notifications.map((item) => item.channel),
      notifications.map((item) => item.payload),
      invocation.trace ? JSON.stringify(invocation.trace) : null,
      invocation.requested_by_principal,
      invocation.origin,
    ],
  });
  const { notified: _notified, ...row } = inserted.rows[0]!;
  return row;
}
