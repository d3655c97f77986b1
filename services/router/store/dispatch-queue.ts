import type { Queryable } from './db.js';
import type { InvocationRecord } from './invocations.js';

export interface ClaimedInvocation extends InvocationRecord {
  /** Agents connected to this router that may run it: bound, serving the workspace, offering the tool. */
  readonly candidates: string[];
  /** Calls each of this router's agents has in hand (dispatched or running), across every router. */
  readonly agent_loads: Record<string, number>;
  /** The call's approval as it stands (dangerous calls only): what dispatch checks it against. */
  readonly approval_state: string | null;
  readonly approval_hash: string | null;
  /** Whether the workspace's policy makes calls of this row's risk wait for an approval (read and write). */
  readonly approval_required: boolean;
}

// Risk order in SQL, as protocol/request-hash.ts orders it; an unknown declaration counts as irreversible.
const RANK = (risk: string) =>
  `coalesce(array_position(ARRAY['read', 'write', 'destructive', 'irreversible'], ${risk}), 4)`;

/**
 * Locks up to `limit` queued invocations that one of `localAgents` can run, oldest first. Rows
 * another router holds are skipped, not waited for, so replicas share the queue without
 * blocking; the caller moves each to `dispatched` before its transaction commits.
 */
export async function claimQueued(
  db: Queryable,
  localAgents: readonly string[],
  limit: number,
): Promise<ClaimedInvocation[]> {
  if (localAgents.length === 0) return [];
  const found = await db.query<ClaimedInvocation>({
    name: 'claim_queued',
    text: `SELECT i.*, c.candidates, ap.state AS approval_state, ap.request_hash AS approval_hash,
            coalesce(CASE i.risk WHEN 'read' THEN pol.approval_required_read WHEN 'write' THEN pol.approval_required_write END, false) AS approval_required,
            (SELECT coalesce(jsonb_object_agg(agent_id, n), '{}') FROM (
               SELECT agent_id, count(*) AS n FROM invocations WHERE state IN ('dispatched', 'running') AND agent_id = ANY($1) GROUP BY agent_id) loads) AS agent_loads
       FROM invocations i
       CROSS JOIN LATERAL (
         SELECT array_agg(a.id ORDER BY a.id) AS candidates
           FROM workspace_agent_bindings b JOIN agents a ON a.id = b.agent_id
          WHERE b.workspace_id = i.workspace_id AND a.id = ANY($1) AND a.status = 'active' AND NOT a.exec_paused
            AND a.manifest->'workspaces' ? i.workspace_id
            AND a.manifest->'tools' @> jsonb_build_array(jsonb_build_object('name', i.tool))
            AND NOT a.manifest->'tools' @> jsonb_build_array(jsonb_build_object('name', i.tool, 'available', false))
            -- An agent that declares the tool more dangerous than the call was classified would refuse it.
            AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(a.manifest->'tools') t WHERE t->>'name' = i.tool AND ${RANK("t->>'risk'")} > ${RANK('i.risk')})
       ) c
       LEFT JOIN LATERAL (SELECT state, request_hash FROM approvals WHERE invocation_id = i.id) ap ON true
       LEFT JOIN approval_policies pol ON pol.workspace_id = i.workspace_id
      WHERE i.state = 'queued' AND c.candidates IS NOT NULL
      ORDER BY i.queued_at, i.id LIMIT $2
      FOR UPDATE OF i SKIP LOCKED`,
    values: [localAgents, limit],
  });
  return found.rows;
}

export interface Assignment {
  readonly id: string;
  readonly projectId: string;
  readonly attempt: number;
  readonly agentId: string;
}

/**
 * Moves claimed rows (still locked by this transaction) to `dispatched`, appends their audit
 * entries in order and queues the notifications: one statement for the whole round.
 */
export async function writeDispatches(
  db: Queryable,
  assignments: readonly Assignment[],
  notification: { channel: string; payloads: readonly string[] },
): Promise<void> {
  if (assignments.length === 0) return;
  await db.query({
    name: 'write_dispatches',
    text: `WITH a AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) WITH ORDINALITY AS a(id, project_id, attempt, agent_id, n)),
     moved AS (
       UPDATE invocations i SET state = 'dispatched', attempt = a.attempt, agent_id = a.agent_id, dispatched_at = now(), updated_at = now()
         FROM a WHERE i.id = a.id AND i.state = 'queued' AND i.attempt = a.attempt - 1 RETURNING i.id),
     logged AS (
       INSERT INTO execution_audit_log (project_id, actor, event, subject, detail)
       SELECT a.project_id, 'router', 'invocation.dispatched', a.id, jsonb_build_object('from', 'queued', 'cause', 'dispatched', 'attempt', a.attempt, 'agent_id', a.agent_id)
         FROM a ORDER BY a.n RETURNING 1)
     SELECT pg_notify($5, payload) FROM unnest($6::text[]) WITH ORDINALITY AS p(payload, n) ORDER BY n`,
    values: [
      assignments.map((row) => row.id),
      assignments.map((row) => row.projectId),
      assignments.map((row) => row.attempt),
      assignments.map((row) => row.agentId),
      notification.channel,
      notification.payloads,
    ],
  });
}

/** Is there, anywhere, an agent that could run this tool in this workspace (on any router)? */
export async function hasExecutor(db: Queryable, workspaceId: string, tool: string): Promise<boolean> {
  const found = await db.query({
    name: 'has_executor',
    text: `SELECT 1 FROM workspace_agent_bindings b JOIN agents a ON a.id = b.agent_id
      WHERE b.workspace_id = $1 AND a.status = 'active' AND a.manifest->'workspaces' ? $1
        AND a.manifest->'tools' @> jsonb_build_array(jsonb_build_object('name', $2::text))
        AND NOT a.manifest->'tools' @> jsonb_build_array(jsonb_build_object('name', $2::text, 'available', false))
      LIMIT 1`,
    values: [workspaceId, tool],
  });
  return (found.rowCount ?? 0) > 0;
}

/** Why the bound, active agents that list a tool say it cannot run (`router_callback_missing`, …), if they do. */
export async function unavailableReason(db: Queryable, workspaceId: string, tool: string): Promise<string | undefined> {
  const found = await db.query<{ reason: string }>(
    `SELECT t->>'unavailable_reason' AS reason
       FROM workspace_agent_bindings b JOIN agents a ON a.id = b.agent_id, jsonb_array_elements(a.manifest->'tools') t
      WHERE b.workspace_id = $1 AND a.status = 'active' AND a.manifest->'workspaces' ? $1
        AND t->>'name' = $2 AND t->>'unavailable_reason' IS NOT NULL
      LIMIT 1`,
    [workspaceId, tool],
  );
  return found.rows[0]?.reason;
}

export interface LostAttempt {
  readonly id: string;
  readonly project_id: string;
  readonly attempt: number;
  readonly agent_id: string | null;
  readonly reason: 'agent_lost' | 'not_accepted';
}

/**
 * Dispatched or running calls whose agent lost its lease (stale, revoked, gone), and dispatches
 * nobody accepted before `notAcceptedBefore`. Any router may find these; the transition's
 * conditional update lets only one act.
 */
export async function findLostAttempts(db: Queryable, notAcceptedBefore: Date, limit = 200): Promise<LostAttempt[]> {
  const found = await db.query<LostAttempt>(
    `SELECT i.id, i.project_id, i.attempt, i.agent_id,
            CASE WHEN a.status IS DISTINCT FROM 'active' THEN 'agent_lost' ELSE 'not_accepted' END AS reason
       FROM invocations i LEFT JOIN agents a ON a.id = i.agent_id
      WHERE i.state IN ('dispatched', 'running')
        AND (a.status IS DISTINCT FROM 'active' OR (i.state = 'dispatched' AND i.dispatched_at < $1))
      LIMIT $2`,
    [notAcceptedBefore, limit],
  );
  return found.rows;
}
