import type { AuditFact } from '../webhooks/events.js';
import type { Queryable } from './db.js';

export interface WebhookEndpointRecord {
  readonly id: string;
  readonly project_id: string;
  readonly url: string;
  readonly events: string[];
  readonly description: string | null;
  readonly secret_sealed: Buffer;
  readonly active: boolean;
  readonly created_at: Date;
}

export interface DeliveryRecord {
  readonly id: string;
  readonly endpoint_id: string;
  readonly event_id: string;
  readonly event_type: string;
  readonly payload: Record<string, unknown>;
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly next_attempt_at: Date;
  readonly last_status_code: number | null;
  readonly last_error: string | null;
  readonly last_duration_ms: number | null;
  readonly created_at: Date;
  readonly delivered_at: Date | null;
}

export async function insertEndpoint(
  db: Queryable,
  endpoint: Pick<WebhookEndpointRecord, 'id' | 'project_id' | 'url' | 'events' | 'description' | 'secret_sealed'>,
): Promise<WebhookEndpointRecord> {
  const inserted = await db.query<WebhookEndpointRecord>(
    'INSERT INTO webhook_endpoints (id, project_id, url, events, description, secret_sealed) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
    [endpoint.id, endpoint.project_id, endpoint.url, endpoint.events, endpoint.description, endpoint.secret_sealed],
  );
  return inserted.rows[0]!;
}

export async function findEndpoint(
  db: Queryable,
  projectId: string,
  id: string,
): Promise<WebhookEndpointRecord | undefined> {
  return (
    await db.query<WebhookEndpointRecord>('SELECT * FROM webhook_endpoints WHERE project_id = $1 AND id = $2', [
      projectId,
      id,
    ])
  ).rows[0];
}

export async function listEndpoints(
  db: Queryable,
  projectId: string,
  page: { limit: number; after?: string },
): Promise<WebhookEndpointRecord[]> {
  const found = await db.query<WebhookEndpointRecord>(
    `SELECT * FROM webhook_endpoints WHERE project_id = $1
        AND ($2::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM webhook_endpoints WHERE id = $2 AND project_id = $1))
      ORDER BY created_at DESC, id DESC LIMIT $3`,
    [projectId, page.after ?? null, page.limit],
  );
  return found.rows;
}

export async function deleteEndpoint(db: Queryable, projectId: string, id: string): Promise<boolean> {
  return (
    ((await db.query('DELETE FROM webhook_endpoints WHERE project_id = $1 AND id = $2', [projectId, id])).rowCount ??
      0) === 1
  );
}

export async function listDeliveries(db: Queryable, endpointId: string, limit: number): Promise<DeliveryRecord[]> {
  return (
    await db.query<DeliveryRecord>(
      'SELECT * FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2',
      [endpointId, limit],
    )
  ).rows;
}

export async function enqueueDelivery(
  db: Queryable,
  endpointId: string,
  event: { id: string; type: string; payload: unknown },
): Promise<void> {
  await db.query(
    'INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, payload) VALUES ($1, $2, $3, $4) ON CONFLICT (endpoint_id, event_id) DO NOTHING',
    [endpointId, event.id, event.type, JSON.stringify(event.payload)],
  );
}

/**
 * With no active endpoint anywhere, moves the cursor to the end of the log without reading it.
 * One statement, one snapshot: an endpoint committed before it is seen (no skip); one committed
 * after it cannot miss entries, which all lie past the position it skipped to.
 */
export async function skipAuditTailWhenUnwatched(db: Queryable): Promise<boolean> {
  const skipped = await db.query<{ unwatched: boolean }>(
    `WITH unwatched AS (SELECT NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE active) AS yes),
          tail AS (SELECT coalesce(max(position), 0) AS p FROM execution_audit_log),
          moved AS (UPDATE webhook_cursor SET last_position = tail.p FROM tail, unwatched WHERE id = 1 AND unwatched.yes AND last_position <> tail.p RETURNING 1)
     SELECT yes AS unwatched FROM unwatched`,
  );
  return skipped.rows[0]!.unwatched;
}

/** Locks the cursor (one scanner at a time across routers) and reads the audit entries after it. */
export async function lockAuditTail(
  db: Queryable,
  limit: number,
): Promise<{ after: string; facts: (AuditFact & { project_id: string })[] }> {
  const cursor = await db.query<{ last: string }>(
    'SELECT last_position::text AS last FROM webhook_cursor WHERE id = 1 FOR UPDATE SKIP LOCKED',
  );
  if (cursor.rows.length === 0) return { after: '', facts: [] };
  const after = cursor.rows[0]!.last;
  const found = await db.query<AuditFact & { project_id: string }>(
    `SELECT l.position::text AS position, l.at, l.project_id, l.actor, l.event, l.subject, l.detail,
            CASE WHEN i.id IS NULL THEN NULL ELSE json_build_object('id', i.id, 'tool', i.tool, 'workspace_id', i.workspace_id) END AS invocation
       FROM execution_audit_log l
       LEFT JOIN invocations i ON i.id = coalesce(CASE WHEN l.subject LIKE 'inv\\_%' THEN l.subject END, l.detail->>'invocation_id')
      WHERE l.position > $1 ORDER BY l.position LIMIT $2`,
    [after, limit],
  );
  return { after, facts: found.rows };
}

export async function advanceCursor(db: Queryable, position: string): Promise<void> {
  await db.query('UPDATE webhook_cursor SET last_position = $1 WHERE id = 1', [position]);
}

/** Active endpoints of a project subscribed to an event type. */
export async function subscribers(db: Queryable, projectId: string, type: string): Promise<string[]> {
  return (
    await db.query<{ id: string }>(
      'SELECT id FROM webhook_endpoints WHERE project_id = $1 AND active AND $2 = ANY(events)',
      [projectId, type],
    )
  ).rows.map((row) => row.id);
}

export interface DueDelivery extends DeliveryRecord {
  readonly url: string;
  readonly secret_sealed: Buffer;
}

/**
 * Takes deliveries due now for `leaseSeconds`: their next attempt moves past the lease in the
 * same statement that claims them, which commits at once. The POSTs then happen outside any
 * transaction (no row locks or pooled connection held across the network); a router that dies
 * mid-POST leaves them due again when the lease ends, for any router to retry.
 */
export async function takeDueDeliveries(db: Queryable, limit: number, leaseSeconds: number): Promise<DueDelivery[]> {
  return (
    await db.query<DueDelivery>(
      `WITH due AS (
       SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED),
     taken AS (
       UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $2) FROM due WHERE d.id = due.id RETURNING d.*)
     SELECT taken.*, e.url, e.secret_sealed FROM taken JOIN webhook_endpoints e ON e.id = taken.endpoint_id`,
      [limit, leaseSeconds],
    )
  ).rows;
}

export async function recordAttempt(
  db: Queryable,
  id: string,
  outcome: {
    delivered: boolean;
    statusCode: number | null;
    error: string | null;
    durationMs: number;
    retryInSeconds: number | undefined;
  },
): Promise<void> {
  await db.query(
    `UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = $2, last_error = $3, last_duration_ms = $6,
            status = CASE WHEN $4 THEN 'delivered' WHEN $5::int IS NULL THEN 'failed' ELSE 'pending' END,
            delivered_at = CASE WHEN $4 THEN now() END,
            next_attempt_at = CASE WHEN $5::int IS NULL THEN next_attempt_at ELSE now() + make_interval(secs => $5::int) END
      WHERE id = $1`,
    [
      id,
      outcome.statusCode,
      outcome.error,
      outcome.delivered,
      outcome.delivered ? null : (outcome.retryInSeconds ?? null),
      outcome.durationMs,
    ],
  );
}
