import { newId } from './ids.js';
import type { Queryable } from './db.js';

export interface Project {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly created_at: Date;
}

export interface Workspace {
  readonly id: string;
  readonly project_id: string;
  readonly name: string;
  readonly is_default: boolean;
  /** What it is for (kubernetes, postgres, host, …); chat templates name the types they apply to. */
  readonly type: string | null;
  readonly created_at: Date;
}

/** A project and its default workspace, created together. */
export async function createProject(
  db: Queryable,
  input: { slug: string; name: string },
): Promise<{ project: Project; workspace: Workspace }> {
  const project = await db.query<Project>('INSERT INTO projects (id, slug, name) VALUES ($1, $2, $3) RETURNING *', [
    newId('proj'),
    input.slug,
    input.name,
  ]);
  const workspace = await db.query<Workspace>(
    "INSERT INTO workspaces (id, project_id, name, is_default) VALUES ($1, $2, 'default', true) RETURNING *",
    [newId('ws'), project.rows[0]!.id],
  );
  return { project: project.rows[0]!, workspace: workspace.rows[0]! };
}

/** By external id (proj_…) or slug: paths accept either. */
export async function findProject(db: Queryable, idOrSlug: string): Promise<Project | undefined> {
  const found = await db.query<Project>('SELECT * FROM projects WHERE id = $1 OR slug = $1', [idOrSlug]);
  return found.rows[0];
}

export async function findDefaultWorkspace(db: Queryable, projectId: string): Promise<Workspace | undefined> {
  const found = await db.query<Workspace>({
    name: 'default_workspace',
    text: 'SELECT * FROM workspaces WHERE project_id = $1 AND is_default',
    values: [projectId],
  });
  return found.rows[0];
}
