import type { Queryable } from './db.js';
import { newId } from './ids.js';
import type { Workspace } from './projects.js';

export interface BindingRecord {
  readonly workspace_id: string;
  readonly agent_id: string;
  readonly created_by: string | null;
  readonly created_at: Date;
}

export async function createWorkspace(
  db: Queryable,
  projectId: string,
  name: string,
  type: string | null = null,
): Promise<Workspace | undefined> {
  const inserted = await db.query<Workspace>(
    'INSERT INTO workspaces (id, project_id, name, type) VALUES ($1, $2, $3, $4) ON CONFLICT (project_id, name) DO NOTHING RETURNING *',
    [newId('ws'), projectId, name, type],
  );
  return inserted.rows[0];
}

export async function findWorkspace(db: Queryable, projectId: string, id: string): Promise<Workspace | undefined> {
  const found = await db.query<Workspace>({
    name: 'find_workspace',
    text: 'SELECT * FROM workspaces WHERE project_id = $1 AND id = $2',
    values: [projectId, id],
  });
  return found.rows[0];
}

export async function listWorkspaces(
  db: Queryable,
  projectId: string,
  page: { limit: number; after?: string },
): Promise<Workspace[]> {
  const found = await db.query<Workspace>(
    `SELECT * FROM workspaces WHERE project_id = $1 AND ($2::text IS NULL OR (name, id) > (SELECT name, id FROM workspaces WHERE id = $2 AND project_id = $1))
      ORDER BY name, id LIMIT $3`,
    [projectId, page.after ?? null, page.limit],
  );
  return found.rows;
}

/** Binds an XEM agent of the same project; undefined when the agent is not one. */
export async function bindAgent(
  db: Queryable,
  workspace: Workspace,
  agentId: string,
  by: string | null,
): Promise<BindingRecord | undefined> {
  const inserted = await db.query<BindingRecord>(
    `INSERT INTO workspace_agent_bindings (workspace_id, agent_id, project_id, created_by)
       SELECT $1, id, project_id, $3 FROM agents WHERE id = $2 AND project_id = $4 AND role = 'xem' AND status NOT IN ('revoked', 'superseded')
     ON CONFLICT (workspace_id, agent_id) DO UPDATE SET workspace_id = EXCLUDED.workspace_id
     RETURNING workspace_id, agent_id, created_by, created_at`,
    [workspace.id, agentId, by, workspace.project_id],
  );
  return inserted.rows[0];
}

export async function unbindAgent(db: Queryable, workspace: Workspace, agentId: string): Promise<boolean> {
  const deleted = await db.query('DELETE FROM workspace_agent_bindings WHERE workspace_id = $1 AND agent_id = $2', [
    workspace.id,
    agentId,
  ]);
  return deleted.rowCount === 1;
}

export async function listBindings(db: Queryable, workspace: Workspace): Promise<BindingRecord[]> {
  const found = await db.query<BindingRecord>(
    'SELECT workspace_id, agent_id, created_by, created_at FROM workspace_agent_bindings WHERE workspace_id = $1 ORDER BY created_at, agent_id LIMIT 1000',
    [workspace.id],
  );
  return found.rows;
}

/** pause-exec / resume-exec; the agent keeps its lease either way. */
export async function setExecPaused(
  db: Queryable,
  projectId: string,
  agentId: string,
  paused: boolean,
): Promise<boolean> {
  const updated = await db.query(
    "UPDATE agents SET exec_paused = $3 WHERE project_id = $1 AND id = $2 AND role = 'xem'",
    [projectId, agentId, paused],
  );
  return updated.rowCount === 1;
}
