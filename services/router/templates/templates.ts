import { ApiError } from '../http/errors.js';
import { builtinRegistry } from '../loop/builtins.js';
import { SUBPLAN_TOOL } from '../loop/subplan.js';
import { withTransaction, type Queryable } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import { actorOf, appendAudit, type ActingPrincipal } from '../store/audit-log.js';
import {
  addTemplateVersion,
  findTemplate,
  findTemplateVersion,
  insertTemplate,
  newTemplateId,
  type TemplateContent,
  type TemplateRecord,
  type TemplateScope,
  type TemplateVersion,
} from '../store/templates.js';

/**
 * Tool names a template may allow: the router's built-ins and every tool an agent of the
 * project (or any project, for platform templates) advertises. Names must match exactly: a
 * typo would silently allow nothing.
 */
export async function knownToolNames(db: Queryable, projectId: string | null): Promise<Set<string>> {
  const found = await db.query<{ name: string }>(
    `SELECT DISTINCT t->>'name' AS name FROM agents a, jsonb_array_elements(a.manifest->'tools') t
      WHERE a.role = 'xem' AND a.manifest IS NOT NULL AND ($1::text IS NULL OR a.project_id = $1)`,
    [projectId],
  );
  return new Set([...builtinRegistry().keys(), SUBPLAN_TOOL, ...found.rows.map((row) => row.name)]);
}

async function assertToolsExist(db: Queryable, projectId: string | null, tools: readonly string[]): Promise<void> {
  const known = await knownToolNames(db, projectId);
  const unknown = tools.filter((tool) => !known.has(tool));
  if (unknown.length > 0)
    throw new ApiError(
      'invalid_parameter',
      `allowed_tools names tools no agent here advertises: ${unknown.slice(0, 10).join(', ')}`,
      'allowed_tools',
    );
}

/** A new template (version 1) in a project or workspace scope, audited. */
export async function createTemplate(
  pool: Pool,
  where: { scope: Exclude<TemplateScope, 'platform'>; projectId: string; workspaceId: string | null; name: string },
  content: TemplateContent,
  actor: ActingPrincipal,
): Promise<{ template: TemplateRecord; version: TemplateVersion }> {
  await assertToolsExist(pool, where.projectId, content.allowed_tools);
  return withTransaction(pool, async (client) => {
    const created = await insertTemplate(
      client,
      {
        id: newTemplateId(),
        scope: where.scope,
        project_id: where.projectId,
        workspace_id: where.workspaceId,
        name: where.name,
        promoted_from: null,
      },
      content,
      actor.principalId,
    ).catch(uniqueName);
    await audit(client, where.projectId, actor, 'template.created', created);
    return created;
  });
}

/** An edit: the latest version with the changes, as a new immutable version. */
export async function reviseTemplate(
  pool: Pool,
  projectId: string,
  template: TemplateRecord,
  change: Partial<TemplateContent>,
  actor: ActingPrincipal,
): Promise<{ template: TemplateRecord; version: TemplateVersion }> {
  const latest = (await findTemplateVersion(pool, template.id))!;
  const content: TemplateContent = {
    description: change.description ?? latest.description,
    system_prompt: change.system_prompt ?? latest.system_prompt,
    allowed_tools: change.allowed_tools ?? latest.allowed_tools,
    approval_policy: change.approval_policy ?? latest.approval_policy,
    applicable_workspace_types: change.applicable_workspace_types ?? latest.applicable_workspace_types,
    tags: change.tags ?? latest.tags,
  };
  await assertToolsExist(pool, template.project_id, content.allowed_tools);
  return withTransaction(pool, async (client) => {
    const revised = await addTemplateVersion(client, template.id, content, actor.principalId);
    await audit(client, projectId, actor, 'template.revised', revised);
    return revised;
  });
}

/** A project's template copied to platform scope (its latest version becomes the platform one's first). */
export async function promoteTemplate(
  pool: Pool,
  projectId: string,
  template: TemplateRecord,
  actor: ActingPrincipal,
): Promise<{ template: TemplateRecord; version: TemplateVersion }> {
  if (template.scope === 'platform')
    throw new ApiError('invalid_parameter', 'The template is a platform template already', 'template_id');
  const latest = (await findTemplateVersion(pool, template.id))!;
  return withTransaction(pool, async (client) => {
    const promoted = await insertTemplate(
      client,
      {
        id: newTemplateId(),
        scope: 'platform',
        project_id: null,
        workspace_id: null,
        name: template.name,
        promoted_from: template.id,
      },
      latest,
      actor.principalId,
    ).catch(uniqueName);
    await audit(client, projectId, actor, 'template.promoted', promoted, {
      from: template.id,
      from_version: latest.version,
    });
    return promoted;
  });
}

/** The version a chat opens with (the latest unless one is named), refused where the workspace's type is not one it applies to. */
export async function versionToApply(
  db: Queryable,
  projectId: string,
  ask: { templateId: string; version?: number; workspaceType: string | null },
): Promise<TemplateVersion> {
  const template = await findTemplate(db, projectId, ask.templateId);
  if (!template) throw new ApiError('template_not_found', undefined, 'template_id');
  const version = await findTemplateVersion(db, template.id, ask.version);
  if (!version) throw new ApiError('template_version_not_found', undefined, 'version');
  const types = version.applicable_workspace_types;
  if (types.length > 0 && (!ask.workspaceType || !types.includes(ask.workspaceType)))
    throw new ApiError(
      'template_not_applicable',
      `The template applies to workspaces of type ${types.join(', ')}; this one is ${ask.workspaceType ?? 'untyped'}`,
      'workspace_id',
    );
  return version;
}

async function audit(
  client: Queryable,
  projectId: string,
  actor: ActingPrincipal,
  event: string,
  { template, version }: { template: TemplateRecord; version: TemplateVersion },
  more: Record<string, unknown> = {},
): Promise<void> {
  await appendAudit(client, {
    projectId,
    ...actorOf(actor),
    event,
    subject: template.id,
    detail: {
      scope: template.scope,
      name: template.name,
      version: version.version,
      approval_policy: version.approval_policy,
      ...more,
    },
  });
}

function uniqueName(error: unknown): never {
  if ((error as { code?: string }).code === '23505') throw new ApiError('template_exists', undefined, 'name');
  throw error;
}
