import type { Queryable } from './db.js';

export interface StoredResponse {
  readonly id: string;
  readonly endpoint_id: string;
  readonly status: string;
  readonly history: Record<string, unknown>[];
  readonly response: Record<string, unknown> & { output: Record<string, unknown>[] };
  /** Every event of the response in order (null for responses stored before events were kept). */
  readonly events: Record<string, unknown>[] | null;
}

export async function insertResponse(
  db: Queryable,
  row: {
    projectId: string;
    endpointId: string;
    previousResponseId: string | null;
    status: string;
    history: unknown[];
    response: Record<string, unknown> & { id: string };
    events: readonly unknown[];
  },
): Promise<void> {
  await db.query({
    name: 'insert_response',
    text: 'INSERT INTO responses (id, project_id, endpoint_id, previous_response_id, status, history, response, events) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
    values: [
      row.response.id,
      row.projectId,
      row.endpointId,
      row.previousResponseId,
      row.status,
      JSON.stringify(row.history),
      JSON.stringify(row.response),
      JSON.stringify(row.events),
    ],
  });
}

/** A response that went on (resumed in the background): its new state, object and events. */
export async function updateResponse(
  db: Queryable,
  row: { projectId: string; id: string; status: string; response: Record<string, unknown>; events: readonly unknown[] },
): Promise<void> {
  await db.query({
    name: 'update_response',
    text: 'UPDATE responses SET status = $3, response = $4, events = $5, updated_at = now() WHERE project_id = $1 AND id = $2',
    values: [row.projectId, row.id, row.status, JSON.stringify(row.response), JSON.stringify(row.events)],
  });
}

/** Only the caller's project's responses: another project's id reads as unknown. */
export async function findResponse(db: Queryable, projectId: string, id: string): Promise<StoredResponse | undefined> {
  const found = await db.query<StoredResponse>({
    name: 'find_response',
    text: 'SELECT id, endpoint_id, status, history, response, events FROM responses WHERE project_id = $1 AND id = $2',
    values: [projectId, id],
  });
  return found.rows[0];
}
