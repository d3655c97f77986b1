import type { FrameBody } from '../../protocol/frame-bodies.js';
import type { Queryable } from './db.js';

export interface ExecResultRecord {
  readonly invocation_id: string;
  readonly attempt: number;
  readonly agent_id: string;
  readonly status: FrameBody<'exec.result'>['status'];
  readonly exit_code: number | null;
  readonly output: string;
  readonly output_truncated: boolean;
  readonly output_chunks: number;
  readonly duration_ms: number;
  readonly error: { code: string; message: string } | null;
  readonly frame_id: string;
  readonly signature: string | null;
  readonly received_at: Date;
}

export type Recording = 'recorded' | 'duplicate' | 'not_owner';

/**
 * Records a result once per invocation attempt, and only from the agent holding that attempt
 * of an invocation of its own project: the check and the insert are one statement, so nothing
 * a foreign or stale report says is ever stored. `frame` is what the signature also covers.
 */
export async function recordExecResult(
  db: Queryable,
  result: {
    agentId: string;
    projectId: string;
    frame: { id: string; v: number; ts: number };
    signature: string | null;
    body: FrameBody<'exec.result'>;
  },
): Promise<Recording> {
  const { body } = result;
  const written = await db.query<{ owned: number; inserted: number }>({
    name: 'record_exec_result',
    text: `WITH owner AS (
       SELECT 1 FROM invocations WHERE id = $1 AND attempt = $2 AND agent_id = $3 AND project_id = $4),
     ins AS (
       INSERT INTO exec_results (invocation_id, attempt, agent_id, project_id, status, exit_code, output, output_truncated, duration_ms, error, frame_id, signature, output_chunks, frame_v, frame_ts)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 FROM owner
       ON CONFLICT (invocation_id, attempt) DO NOTHING RETURNING 1)
     SELECT (SELECT count(*) FROM owner)::int AS owned, (SELECT count(*) FROM ins)::int AS inserted`,
    values: [
      body.invocation_id,
      body.attempt,
      result.agentId,
      result.projectId,
      body.status,
      body.exit_code,
      body.output,
      body.output_truncated,
      body.duration_ms,
      body.error ?? null,
      result.frame.id,
      result.signature,
      body.output_chunks ?? 0,
      result.frame.v,
      result.frame.ts,
    ],
  });
  const row = written.rows[0]!;
  return row.owned === 0 ? 'not_owner' : row.inserted === 1 ? 'recorded' : 'duplicate';
}

/** The invocation's current attempt and who holds it (for report ownership checks). */
export async function findAttemptOwner(
  db: Queryable,
  invocationId: string,
): Promise<{ attempt: number; agentId: string | null; projectId: string } | undefined> {
  const found = await db.query<{ attempt: number; agent_id: string | null; project_id: string }>({
    name: 'find_attempt_owner',
    text: 'SELECT attempt, agent_id, project_id FROM invocations WHERE id = $1',
    values: [invocationId],
  });
  const row = found.rows[0];
  return row && { attempt: row.attempt, agentId: row.agent_id, projectId: row.project_id };
}

/** A recorded result; with a project, only that project's. */
export async function findExecResult(
  db: Queryable,
  invocationId: string,
  attempt: number,
  projectId?: string,
): Promise<ExecResultRecord | undefined> {
  const found = await db.query<ExecResultRecord>(
    `SELECT invocation_id, attempt, agent_id, status, exit_code, output, output_truncated, output_chunks, duration_ms, error, frame_id, signature, received_at
     FROM exec_results WHERE invocation_id = $1 AND attempt = $2 AND ($3::text IS NULL OR project_id = $3)`,
    [invocationId, attempt, projectId ?? null],
  );
  return found.rows[0];
}

/** Records one chunk of a result's output, only from the attempt's agent; a resent chunk changes nothing. */
export async function recordOutputChunk(
  db: Queryable,
  agent: { id: string; projectId: string },
  body: FrameBody<'exec.output'>,
): Promise<void> {
  await db.query(
    `INSERT INTO exec_output_chunks (invocation_id, attempt, index, agent_id, data)
     SELECT $1, $2, $3, $4, $5 FROM invocations WHERE id = $1 AND attempt = $2 AND agent_id = $4 AND project_id = $6
     ON CONFLICT (invocation_id, attempt, index) DO NOTHING`,
    [body.invocation_id, body.attempt, body.index, agent.id, body.data, agent.projectId],
  );
}

/** A result's whole output: the result's own part, then its chunks in order (those that arrived). */
export async function fullOutput(
  db: Queryable,
  result: ExecResultRecord,
): Promise<{ output: string; complete: boolean }> {
  if (result.output_chunks === 0) return { output: result.output, complete: true };
  const chunks = await db.query<{ data: string }>(
    'SELECT data FROM exec_output_chunks WHERE invocation_id = $1 AND attempt = $2 ORDER BY index',
    [result.invocation_id, result.attempt],
  );
  return {
    output: result.output + chunks.rows.map((row) => row.data).join(''),
    complete: chunks.rows.length === result.output_chunks,
  };
}
