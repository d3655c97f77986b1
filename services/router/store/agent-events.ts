import type { Queryable } from './db.js';

export interface AgentEvent {
  readonly id: string;
  readonly project_id: string | null;
  readonly agent_id: string | null;
  readonly event: string;
  readonly detail: Record<string, unknown>;
  readonly at: Date;
}

/** Appends one event. `detail` must hold no secrets (never the join key or a token). */
export async function recordAgentEvent(
  db: Queryable,
  event: { projectId: string | null; agentId: string | null; event: string; detail?: Record<string, unknown> },
): Promise<void> {
  await db.query('INSERT INTO agent_events (project_id, agent_id, event, detail) VALUES ($1, $2, $3, $4)', [
    event.projectId,
    event.agentId,
    event.event,
    event.detail ?? {},
  ]);
}

export async function listAgentEvents(db: Queryable, projectId: string, agentId: string, limit: number): Promise<AgentEvent[]> {
  const found = await db.query<AgentEvent>(
    'SELECT id::text, project_id, agent_id, event, detail, at FROM agent_events WHERE project_id = $1 AND agent_id = $2 ORDER BY id DESC LIMIT $3',
    [projectId, agentId, limit],
  );
  return found.rows;
}
