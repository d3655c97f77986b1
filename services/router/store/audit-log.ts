import type { Queryable } from './db.js';

/**
 * The hash-chained execution audit log. The database assigns position, time and hashes in its
 * insert trigger (migration 4), so every writer — any router, any transaction — extends one
 * chain. Entries hold no secrets: callers put ids and decisions in `detail`, never keys.
 */
export interface AuditEntry {
  readonly projectId: string | null;
  /**
   * Who acted: a principal (`usr_…`, `sa_…`), `agent:<agent id>`, `router` or `system`; entries
   * written before people existed say `key:<api key id>`.
   */
  readonly actor: string;
  /** The key and channel a principal acted through; kept in `detail.via`. */
  readonly via?: { readonly key_id: string; readonly channel: string };
  /** `<aggregate>.<what happened>`, e.g. `invocation.dispatched`, `approval.approved`. */
  readonly event: string;
  readonly subject?: string | null;
  readonly detail?: Record<string, unknown>;
  readonly signature?: string | null;
}

export interface AuditRecord {
  readonly position: string;
  readonly at: Date;
  readonly project_id: string | null;
  readonly actor: string;
  readonly event: string;
  readonly subject: string | null;
  readonly detail: Record<string, unknown>;
  readonly signature: string | null;
}

/** The parts of a request's principal an audit entry names. */
export interface ActingPrincipal {
  readonly principalId: string;
  readonly keyId: string;
  readonly channel: string;
}

/** The person (or service account) behind a request, and the key and channel it used; the router when none. */
export function actorOf(principal: ActingPrincipal | undefined): Pick<AuditEntry, 'actor' | 'via'> {
  return principal
    ? { actor: principal.principalId, via: { key_id: principal.keyId, channel: principal.channel } }
    : { actor: 'router' };
}

export async function appendAudit(db: Queryable, entry: AuditEntry): Promise<void> {
  await appendAuditBatch(db, [entry]);
}

/** Several entries in one statement (one lock acquisition), in the order given. */
export async function appendAuditBatch(db: Queryable, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO execution_audit_log (project_id, actor, event, subject, detail, signature)
     SELECT project_id, actor, event, subject, detail, signature
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[]) WITH ORDINALITY
            AS e(project_id, actor, event, subject, detail, signature, n)
      ORDER BY n`,
    [
      entries.map((entry) => entry.projectId),
      entries.map((entry) => entry.actor),
      entries.map((entry) => entry.event),
      entries.map((entry) => entry.subject ?? null),
      entries.map((entry) => JSON.stringify(entry.via ? { ...entry.detail, via: entry.via } : (entry.detail ?? {}))),
      entries.map((entry) => entry.signature ?? null),
    ],
  );
}

export interface AuditFilter {
  readonly subject?: string;
  readonly event?: string;
  readonly actor?: string;
  /** Entries older than this position (the cursor of the previous page). */
  readonly before?: string;
  readonly limit: number;
}

// Positions leave as text (bigint) under their own name, so ORDER BY names the table's column.

/** A project's entries, newest first. Filters are bound parameters, never spliced. */
export async function listAudit(db: Queryable, projectId: string, filter: AuditFilter): Promise<AuditRecord[]> {
  const found = await db.query<AuditRecord>(
    `SELECT position::text, at, project_id, actor, event, subject, detail, signature FROM execution_audit_log l
      WHERE project_id = $1 AND ($2::text IS NULL OR subject = $2) AND ($3::text IS NULL OR event = $3)
        AND ($4::text IS NULL OR actor = $4) AND ($5::bigint IS NULL OR l.position < $5)
      ORDER BY l.position DESC LIMIT $6`,
    [
      projectId,
      filter.subject ?? null,
      filter.event ?? null,
      filter.actor ?? null,
      filter.before ?? null,
      filter.limit,
    ],
  );
  return found.rows;
}

/** Oldest first: the history of one invocation, approval or agent. */
export async function subjectHistory(
  db: Queryable,
  projectId: string,
  subject: string,
  limit = 200,
): Promise<AuditRecord[]> {
  const found = await db.query<AuditRecord>(
    `SELECT position::text, at, project_id, actor, event, subject, detail, signature FROM execution_audit_log l
      WHERE project_id = $1 AND subject = $2 ORDER BY l.position LIMIT $3`,
    [projectId, subject, limit],
  );
  return found.rows;
}

export type ChainVerdict =
  | { readonly ok: true; readonly entries: number }
  | {
      readonly ok: false;
      readonly entries: number;
      readonly first_broken: { position: string; problem: 'hash_mismatch' | 'chain_break' | 'position_gap' };
    };

/**
 * Recomputes every hash in order. An edited row fails its own hash; a deleted or reordered row
 * breaks the next row's link or the positions' sequence. Runs in the database: one pass, no
 * serialization differences between writer and verifier.
 */
export async function verifyAuditChain(db: Queryable): Promise<ChainVerdict> {
  const found = await db.query<{
    position: string;
    problem: 'hash_mismatch' | 'chain_break' | 'position_gap';
    entries: string;
  }>(
    `WITH walked AS (
       SELECT position, hash, prev_hash,
              audit_entry_hash(prev_hash, position, at, project_id, actor, event, subject, detail, signature) AS expected,
              lag(hash) OVER w AS previous_hash, lag(position) OVER w AS previous_position
         FROM execution_audit_log WINDOW w AS (ORDER BY position))
     SELECT (SELECT count(*) FROM execution_audit_log)::text AS entries, position::text,
            CASE WHEN hash <> expected THEN 'hash_mismatch'
                 WHEN position <> coalesce(previous_position, 0) + 1 THEN 'position_gap'
                 ELSE 'chain_break' END AS problem
       FROM walked
      WHERE hash <> expected OR prev_hash IS DISTINCT FROM previous_hash OR position <> coalesce(previous_position, 0) + 1
      ORDER BY position LIMIT 1`,
  );
  const broken = found.rows[0];
  if (!broken) {
    const count = await db.query<{ entries: string }>('SELECT count(*)::text AS entries FROM execution_audit_log');
    return { ok: true, entries: Number(count.rows[0]!.entries) };
  }
  return {
    ok: false,
    entries: Number(broken.entries),
    first_broken: { position: broken.position, problem: broken.problem },
  };
}
