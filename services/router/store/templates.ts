import { randomBytes } from 'node:crypto';
import type { Queryable } from './db.js';

export type TemplateScope = 'platform' | 'project' | 'workspace';
export type TemplatePolicy = 'standard' | 'elevated' | 'restricted';

export interface TemplateRecord {
  readonly id: string;
  readonly scope: TemplateScope;
  readonly project_id: string | null;
  readonly workspace_id: string | null;
  readonly name: string;
  readonly latest_version: number;
  readonly promoted_from: string | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

export interface TemplateVersion {
  readonly template_id: string;
  readonly version: number;
  readonly description: string;
  readonly system_prompt: string;
  readonly allowed_tools: string[];
  readonly approval_policy: TemplatePolicy;
  readonly applicable_workspace_types: string[];
  readonly tags: string[];
  readonly created_by: string | null;
  readonly created_at: Date;
}

export type TemplateContent = Pick<
  TemplateVersion,
  'description' | 'system_prompt' | 'allowed_tools' | 'approval_policy' | 'applicable_workspace_types' | 'tags'
>;

export const newTemplateId = () => `tpl_${randomBytes(12).toString('hex')}`;

// A project sees the platform's templates, its own, and its workspaces'.
const VISIBLE = `(t.scope = 'platform' OR t.project_id = $1)`;

export async function insertTemplate(
  db: Queryable,
  template: Pick<TemplateRecord, 'id' | 'scope' | 'project_id' | 'workspace_id' | 'name' | 'promoted_from'>,
  content: TemplateContent,
  createdBy: string | null,
): Promise<{ template: TemplateRecord; version: TemplateVersion }> {
  const inserted = await db.query<TemplateRecord>(
    `INSERT INTO chat_templates (id, scope, project_id, workspace_id, name, promoted_from)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
    [template.id, template.scope, template.project_id, template.workspace_id, template.name, template.promoted_from],
  );
  return { template: inserted.rows[0]!, version: await insertVersion(db, template.id, 1, content, createdBy) };
}

/** Every edit is a new version (the earlier ones stay as they were: a trigger refuses updates). */
export async function addTemplateVersion(
  db: Queryable,
  id: string,
  content: TemplateContent,
  createdBy: string | null,
): Promise<{ template: TemplateRecord; version: TemplateVersion }> {
  const bumped = await db.query<TemplateRecord>(
    'UPDATE chat_templates SET latest_version = latest_version + 1, updated_at = now() WHERE id = $1 RETURNING *',
    [id],
  );
  const template = bumped.rows[0]!;
  return { template, version: await insertVersion(db, id, template.latest_version, content, createdBy) };
}

async function insertVersion(
  db: Queryable,
  id: string,
  version: number,
  content: TemplateContent,
  createdBy: string | null,
): Promise<TemplateVersion> {
  const inserted = await db.query<TemplateVersion>(
    `INSERT INTO chat_template_versions (template_id, version, description, system_prompt, allowed_tools,
        approval_policy, applicable_workspace_types, tags, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
    [
      id,
      version,
      content.description,
      content.system_prompt,
      content.allowed_tools,
      content.approval_policy,
      content.applicable_workspace_types,
      content.tags,
      createdBy,
    ],
  );
  return inserted.rows[0]!;
}

/** A template this project may see (the platform's, its own, its workspaces'). */
export async function findTemplate(db: Queryable, projectId: string, id: string): Promise<TemplateRecord | undefined> {
  return (
    await db.query<TemplateRecord>(`SELECT t.* FROM chat_templates t WHERE t.id = $2 AND ${VISIBLE}`, [projectId, id])
  ).rows[0];
}

export async function listTemplates(
  db: Queryable,
  projectId: string,
  filter: { scope?: TemplateScope; workspaceId?: string; limit: number; after?: string },
): Promise<TemplateRecord[]> {
  return (
    await db.query<TemplateRecord>(
      `SELECT t.* FROM chat_templates t WHERE ${VISIBLE}
          AND ($2::text IS NULL OR t.scope = $2) AND ($3::text IS NULL OR t.workspace_id IS NULL OR t.workspace_id = $3)
          AND ($4::text IS NULL OR t.id > $4)
        ORDER BY t.id LIMIT $5`,
      [projectId, filter.scope ?? null, filter.workspaceId ?? null, filter.after ?? null, filter.limit],
    )
  ).rows;
}

export async function findTemplateVersion(
  db: Queryable,
  id: string,
  version?: number,
): Promise<TemplateVersion | undefined> {
  return (
    await db.query<TemplateVersion>(
      `SELECT v.* FROM chat_template_versions v JOIN chat_templates t ON t.id = v.template_id
        WHERE v.template_id = $1 AND v.version = coalesce($2, t.latest_version)`,
      [id, version ?? null],
    )
  ).rows[0];
}

export async function templateVersions(db: Queryable, id: string): Promise<TemplateVersion[]> {
  return (
    await db.query<TemplateVersion>('SELECT * FROM chat_template_versions WHERE template_id = $1 ORDER BY version', [
      id,
    ])
  ).rows;
}
