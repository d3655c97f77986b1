import type { Queryable } from './db.js';

/**
 * Takes this interval's turn to sign a checkpoint: moves the schedule to the chain's head when
 * the chain grew and the last checkpoint is old enough, in one statement, so of several routers
 * exactly one signs each head. Returns the head to sign, or nothing.
 */
export async function claimCheckpointTurn(
  db: Queryable,
  minIntervalMs: number,
): Promise<{ position: number; hash: string } | undefined> {
  const claimed = await db.query<{ position: string; hash: Buffer }>(
    `WITH head AS (SELECT position, hash FROM execution_audit_log ORDER BY position DESC LIMIT 1)
     UPDATE audit_checkpoint_schedule s SET position = head.position, emitted_at = now()
       FROM head WHERE s.id = 1 AND head.position > s.position AND s.emitted_at <= now() - make_interval(secs => $1::double precision / 1000)
     RETURNING head.position::text AS position, head.hash`,
    [minIntervalMs],
  );
  const row = claimed.rows[0];
  return row && { position: Number(row.position), hash: row.hash.toString('hex') };
}

/** The hash of the row at a position, and the chain's current head (what a checkpoint is compared with). */
export async function chainAt(db: Queryable, position: number): Promise<{ hash: string | null; head: number }> {
  const found = await db.query<{ hash: Buffer | null; head: string }>(
    'SELECT (SELECT hash FROM execution_audit_log WHERE position = $1) AS hash, (SELECT coalesce(max(position), 0) FROM execution_audit_log)::text AS head',
    [position],
  );
  const row = found.rows[0]!;
  return { hash: row.hash?.toString('hex') ?? null, head: Number(row.head) };
}

/** Active endpoints, in any project, subscribed to audit checkpoints. */
export async function checkpointSubscribers(db: Queryable): Promise<string[]> {
  return (
    await db.query<{ id: string }>("SELECT id FROM webhook_endpoints WHERE active AND 'audit.checkpoint' = ANY(events)")
  ).rows.map((row) => row.id);
}
