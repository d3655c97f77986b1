import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { createChat } from '../conversations/chats.js';
import { chatView } from '../conversations/views.js';
import { createTemplate, promoteTemplate, reviseTemplate, versionToApply } from '../templates/templates.js';
import { templateView, versionView } from '../templates/views.js';
import type { Pool } from '../store/pool.js';
import { findDefaultWorkspace } from '../store/projects.js';
import {
  findTemplate,
  findTemplateVersion,
  listTemplates,
  templateVersions,
  type TemplateRecord,
} from '../store/templates.js';
import { findWorkspace } from '../store/workspaces.js';
import { assertPermission, authenticateApiKey, projectOf, requirePermission, requireProjectAccess } from './auth.js';
import { ApiError } from './errors.js';
import { limitApiKeys, type RateLimitSettings } from './rate-limits.js';
import { PageQuery, pagedList, ProjectParams, strict, type Page } from './schemas.js';

const Params = Type.Object(
  { project_id: ProjectParams.properties.project_id, id: Type.String({ pattern: '^tpl_[0-9a-f]{24}$' }) },
  strict,
);
const WorkspaceId = Type.String({ pattern: '^ws_[0-9a-f]{12,48}$' });
const ToolName = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,128}$' });
const Policy = Type.Union([Type.Literal('standard'), Type.Literal('elevated'), Type.Literal('restricted')]);
const Slug = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' });
const Content = {
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  system_prompt: Type.String({ minLength: 1, maxLength: 32_000 }),
  allowed_tools: Type.Optional(Type.Array(ToolName, { maxItems: 200, uniqueItems: true })),
  approval_policy: Type.Optional(Policy),
  applicable_workspace_types: Type.Optional(Type.Array(Slug, { maxItems: 20, uniqueItems: true })),
  tags: Type.Optional(Type.Array(Slug, { maxItems: 20, uniqueItems: true })),
};
const CreateBody = Type.Object(
  {
    name: Slug,
    scope: Type.Optional(Type.Union([Type.Literal('project'), Type.Literal('workspace')])),
    workspace_id: Type.Optional(WorkspaceId),
    ...Content,
  },
  strict,
);
const { system_prompt: _required, ...Optional } = Content;
const UpdateBody = Type.Object(
  { ...Optional, system_prompt: Type.Optional(Content.system_prompt) },
  { ...strict, minProperties: 1 },
);
const ShowQuery = Type.Object({ version: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,8}$' })) }, strict);
const ListQuery = Type.Object(
  {
    ...PageQuery.properties,
    scope: Type.Optional(Type.Union([Type.Literal('platform'), Type.Literal('project'), Type.Literal('workspace')])),
    workspace_id: Type.Optional(WorkspaceId),
  },
  strict,
);
const ApplyBody = Type.Object(
  {
    workspace_id: Type.Optional(WorkspaceId),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    version: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  strict,
);

/**
 * `/:project_id/v1/templates` (docs/templates.md): chat templates of the platform, the project
 * and its workspaces. Readers of the project's chats list, show and apply them (applying opens a
 * chat pinned to the version); admins create and revise the project's and workspaces' (every
 * edit a new immutable version); admins of the platform project promote them and revise the
 * platform's.
 */
export function templateRoutes(deps: { readonly pool: Pool; readonly rateLimits?: RateLimitSettings }) {
  const { pool } = deps;
  const visible = async (request: FastifyRequest, id: string) => {
    const template = await findTemplate(pool, projectOf(request).id, id);
    if (!template) throw new ApiError('template_not_found', undefined, 'id');
    return template;
  };
  return async function register(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticateApiKey({ db: pool }));
    app.addHook('preHandler', requireProjectAccess({ db: pool }));
    app.addHook('preHandler', requirePermission('inference.use', 'manage.write'));
    if (deps.rateLimits) app.addHook('preHandler', limitApiKeys(deps.rateLimits));

    app.get<{ Querystring: Static<typeof ListQuery> }>('/', { schema: { querystring: ListQuery } }, async (request) => {
      const { scope, workspace_id } = request.query;
      const page = await pagedList(
        request.query as Page,
        (cursor) =>
          listTemplates(pool, projectOf(request).id, {
            ...cursor,
            ...(scope ? { scope } : {}),
            ...(workspace_id ? { workspaceId: workspace_id } : {}),
          }),
        (template) => template,
      );
      const data = await Promise.all(
        page.data.map(async (template) => templateView(template, (await findTemplateVersion(pool, template.id))!)),
      );
      return { ...page, data };
    });

    app.get<{ Params: Static<typeof Params>; Querystring: Static<typeof ShowQuery> }>(
      '/:id',
      { schema: { params: Params, querystring: ShowQuery } },
      async (request) => {
        const template = await visible(request, request.params.id);
        const version = await findTemplateVersion(
          pool,
          template.id,
          request.query.version ? Number(request.query.version) : undefined,
        );
        if (!version) throw new ApiError('template_version_not_found', undefined, 'version');
        return templateView(template, version);
      },
    );

    app.get<{ Params: Static<typeof Params> }>('/:id/versions', { schema: { params: Params } }, async (request) => {
      const template = await visible(request, request.params.id);
      return { object: 'list', data: (await templateVersions(pool, template.id)).map(versionView), has_more: false };
    });

    app.post<{ Body: Static<typeof CreateBody> }>('/', { schema: { body: CreateBody } }, async (request, reply) => {
      const project = projectOf(request);
      const { name, workspace_id, scope: asked, ...content } = request.body;
      const scope = asked ?? (workspace_id ? 'workspace' : 'project');
      if (scope === 'workspace' && !workspace_id)
        throw new ApiError('invalid_parameter', 'A workspace template names its workspace', 'workspace_id');
      if (workspace_id && !(await findWorkspace(pool, project.id, workspace_id)))
        throw new ApiError('workspace_not_found', undefined, 'workspace_id');
      const created = await createTemplate(
        pool,
        { scope, projectId: project.id, workspaceId: scope === 'workspace' ? workspace_id! : null, name },
        contentOf(content),
        request.principal!,
      );
      return reply.status(201).send(templateView(created.template, created.version));
    });

    app.patch<{ Params: Static<typeof Params>; Body: Static<typeof UpdateBody> }>(
      '/:id',
      { schema: { params: Params, body: UpdateBody } },
      async (request) => {
        const template = await visible(request, request.params.id);
        await assertMayChange(request, template);
        const revised = await reviseTemplate(pool, projectOf(request).id, template, request.body, request.principal!);
        return templateView(revised.template, revised.version);
      },
    );

    app.post<{ Params: Static<typeof Params> }>(
      '/:id/promote',
      { schema: { params: Params } },
      async (request, reply) => {
        const template = await visible(request, request.params.id);
        await assertPlatformAdmin(request);
        const promoted = await promoteTemplate(pool, projectOf(request).id, template, request.principal!);
        return reply.status(201).send(templateView(promoted.template, promoted.version));
      },
    );

    // Applying opens a chat: what readers of chats may do (not an admin's change).
    app.post<{ Params: Static<typeof Params>; Body: Static<typeof ApplyBody> }>(
      '/:id/apply',
      { schema: { params: Params, body: ApplyBody }, config: { permission: 'inference.use' } },
      async (request, reply) => {
        const project = projectOf(request);
        const template = await visible(request, request.params.id);
        const workspaceId = request.body.workspace_id ?? template.workspace_id;
        const workspace = workspaceId
          ? await findWorkspace(pool, project.id, workspaceId)
          : await findDefaultWorkspace(pool, project.id);
        if (!workspace) throw new ApiError('workspace_not_found', undefined, 'workspace_id');
        if (template.workspace_id && template.workspace_id !== workspace.id)
          throw new ApiError('template_not_applicable', 'This template belongs to another workspace', 'workspace_id');
        const version = await versionToApply(pool, project.id, {
          templateId: template.id,
          ...(request.body.version ? { version: request.body.version } : {}),
          workspaceType: workspace.type,
        });
        const { chat, branch } = await createChat(pool, {
          projectId: project.id,
          workspaceId: workspace.id,
          ownerId: request.principal!.principalId,
          title: request.body.title ?? template.name,
          template: { id: template.id, version: version.version },
        });
        return reply.status(201).send(chatView(chat, [branch]));
      },
    );
  };

  /** Platform templates are the platform admins'; the others their project's admins'. */
  async function assertMayChange(request: FastifyRequest, template: TemplateRecord): Promise<void> {
    if (template.scope === 'platform') await assertPlatformAdmin(request);
  }

  async function assertPlatformAdmin(request: FastifyRequest): Promise<void> {
    assertPermission(request, 'manage.write');
    const found = await pool.query<{ is_platform: boolean }>('SELECT is_platform FROM projects WHERE id = $1', [
      projectOf(request).id,
    ]);
    if (!found.rows[0]?.is_platform)
      throw new ApiError('template_read_only', 'Only admins of the platform project change platform templates');
  }
}

function contentOf(body: Omit<Static<typeof CreateBody>, 'name' | 'scope' | 'workspace_id'>) {
  return {
    description: body.description ?? '',
    system_prompt: body.system_prompt,
    allowed_tools: body.allowed_tools ?? [],
    approval_policy: body.approval_policy ?? 'standard',
    applicable_workspace_types: body.applicable_workspace_types ?? [],
    tags: body.tags ?? [],
  };
}
