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

/** Records a result once per invocation attempt; true when this call recorded it. */
export async function recordExecResult(
  db: Queryable,
  result: { agentId: string; projectId: string; frameId: string; signature: string | null; body: FrameBody<'exec.result'> },
): Promise<boolean> {
  const { body } = result;
  const inserted = await db.query({ name: 'record_exec_result', text: `INSERT INTO exec_results (invocation_id, attempt, agent_id, project_id, status, exit_code, output, output_truncated, duration_ms, error, frame_id, signature, output_chunks)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (invocation_id, attempt) DO NOTHING`, values: [body.invocation_id, body.attempt, result.agentId, result.projectId, body.status, body.exit_code, body.output, body.output_truncated, body.duration_ms, body.error ?? null, result.frameId, result.signature, body.output_chunks ?? 0] });
  return inserted.rowCount === 1;
}

/** A recorded result; with a project, only that project's. */
export async function findExecResult(db: Queryable, invocationId: string, attempt: number, projectId?: string): Promise<ExecResultRecord | undefined> {
  const found = await db.query<ExecResultRecord>(
    `SELECT invocation_id, attempt, agent_id, status, exit_code, output, output_truncated, output_chunks, duration_ms, error, frame_id, signature, received_at
     FROM exec_results WHERE invocation_id = $1 AND attempt = $2 AND ($3::text IS NULL OR project_id = $3)`,
    [invocationId, attempt, projectId ?? null],
  );
  return found.rows[0];
}

/** Records one chunk of a result's output; a resent chunk changes nothing. */
export async function recordOutputChunk(db: Queryable, agentId: string, body: FrameBody<'exec.output'>): Promise<void> {
  await db.query(
    `INSERT INTO exec_output_chunks (invocation_id, attempt, index, agent_id, data) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (invocation_id, attempt, index) DO NOTHING`,
    [body.invocation_id, body.attempt, body.index, agentId, body.data],
  );
}

/** A result's whole output: the result's own part, then its chunks in order (those that arrived). */
export async function fullOutput(db: Queryable, result: ExecResultRecord): Promise<{ output: string; complete: boolean }> {
  if (result.output_chunks === 0) return { output: result.output, complete: true };
  const chunks = await db.query<{ data: string }>('SELECT data FROM exec_output_chunks WHERE invocation_id = $1 AND attempt = $2 ORDER BY index', [result.invocation_id, result.attempt]);
  return { output: result.output + chunks.rows.map((row) => row.data).join(''), complete: chunks.rows.length === result.output_chunks };
}
