import type { Queryable } from './db.js';

/** An audit entry an agent's signature stands behind, with what the signature covers. */
export interface SignedEntry {
  readonly position: string;
  readonly signature: string | null;
  readonly actor: string;
  /** The result as stored; null when none matches the entry (or it predates what is kept). */
  readonly result: {
    readonly invocation_id: string;
    readonly attempt: number;
    readonly agent_id: string;
    readonly status: string;
    readonly exit_code: number | null;
    readonly output: string;
    readonly output_truncated: boolean;
    readonly output_chunks: number;
    readonly duration_ms: number;
    readonly error: { code: string; message: string } | null;
    readonly frame_id: string;
    readonly frame_v: number | null;
    readonly frame_ts: string | null;
  } | null;
  readonly signing_public_key: Buffer | null;
}

/**
 * Entries after `afterPosition` that carry an agent's signature or record a result (which must
 * carry one), oldest first, joined with the stored result and the signer's registered key.
 */
export async function signedEntries(db: Queryable, afterPosition: string, limit: number): Promise<SignedEntry[]> {
  const found = await db.query<SignedEntry>(
    `SELECT l.position::text AS position, l.signature, l.actor,
            CASE WHEN r.invocation_id IS NULL THEN NULL ELSE json_build_object(
              'invocation_id', r.invocation_id, 'attempt', r.attempt, 'agent_id', r.agent_id, 'status', r.status, 'exit_code', r.exit_code, 'output', r.output,
              'output_truncated', r.output_truncated, 'output_chunks', r.output_chunks, 'duration_ms', r.duration_ms, 'error', r.error,
              'frame_id', r.frame_id, 'frame_v', r.frame_v, 'frame_ts', r.frame_ts::text) END AS result,
            a.signing_public_key
       FROM execution_audit_log l
       LEFT JOIN exec_results r ON r.invocation_id = l.subject
            AND r.attempt = CASE WHEN l.detail->>'attempt' ~ '^[0-9]{1,9}$' THEN (l.detail->>'attempt')::int END
       LEFT JOIN agents a ON a.id = CASE WHEN l.actor LIKE 'agent:%' THEN substring(l.actor FROM 7) END
      WHERE l.position > $1::bigint AND (l.signature IS NOT NULL OR l.detail->>'cause' = 'result')
      ORDER BY l.position LIMIT $2`,
    [afterPosition, limit],
  );
  return found.rows;
}
