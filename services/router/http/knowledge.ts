import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { keepLearnings } from '../knowledge/learnings.js';
import { learningView, memoryView } from '../knowledge/views.js';
import { actorOf, appendAudit } from '../store/audit-log.js';
import { deleteLearning, listLearnings } from '../store/learnings.js';
import { deleteMemory, findMemory, listMemories } from '../store/memories.js';
import type { Pool } from '../store/pool.js';
import { findDefaultWorkspace } from '../store/projects.js';
import { findWorkspace } from '../store/workspaces.js';
import { searchWorkspace, type SearchKind } from '../store/workspace-search.js';
import {
  assertPermission,
  authenticateApiKey,
  hasPermission,
  projectOf,
  requirePermission,
  requireProjectAccess,
} from './auth.js';
import { ApiError } from './errors.js';
import { limitApiKeys, type RateLimitSettings } from './rate-limits.js';
import { PageQuery, pagedList, ProjectParams, strict, type Page } from './schemas.js';

const WorkspaceQuery = { workspace_id: Type.Optional(Type.String({ pattern: '^ws_[0-9a-f]{12,48}$' })) };
const ListQuery = Type.Object({ ...PageQuery.properties, ...WorkspaceQuery }, strict);
const IdParams = (prefix: string) =>
  Type.Object(
    { project_id: ProjectParams.properties.project_id, id: Type.String({ pattern: `^${prefix}_[0-9a-f]{24}$` }) },
    strict,
  );
const MemoryParams = IdParams('mem');
const LearningParams = IdParams('lrn');
const LearningBody = Type.Object(
  {
    content: Type.String({ minLength: 1, maxLength: 2000 }),
    score: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    ...WorkspaceQuery,
  },
  strict,
);
const KINDS = ['memory', 'artifact', 'message', 'learning'] as const;
const SearchQuery = Type.Object(
  {
    q: Type.String({ minLength: 1, maxLength: 1000 }),
    kinds: Type.Optional(
      Type.String({ pattern: '^(memory|artifact|message|learning)(,(memory|artifact|message|learning)){0,3}$' }),
    ),
    limit: Type.Optional(Type.String({ pattern: '^(50|[1-4]?[0-9])$' })),
    ...WorkspaceQuery,
  },
  strict,
);

/**
 * `/:project_id/v1/knowledge`: a workspace's memories (list, delete), learnings (list; operators
 * add and delete them) and its full-text search over memories, artifacts, messages and
 * learnings. The workspace is `workspace_id`, the project's default one when unset.
 */
export function knowledgeRoutes(deps: { readonly pool: Pool; readonly rateLimits?: RateLimitSettings }) {
  const { pool } = deps;
  const workspaceOf = async (request: FastifyRequest, id: string | undefined) => {
    const project = projectOf(request);
    const workspace = id ? await findWorkspace(pool, project.id, id) : await findDefaultWorkspace(pool, project.id);
    if (!workspace) throw new ApiError('workspace_not_found', undefined, 'workspace_id');
    return workspace;
  };
  return async function register(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticateApiKey({ db: pool }));
    app.addHook('preHandler', requireProjectAccess({ db: pool }));
    app.addHook('preHandler', requirePermission('inference.use', 'inference.use'));
    if (deps.rateLimits) app.addHook('preHandler', limitApiKeys(deps.rateLimits));

    app.get<{ Querystring: Static<typeof ListQuery> }>(
      '/memories',
      { schema: { querystring: ListQuery } },
      async (request) => {
        const workspace = await workspaceOf(request, request.query.workspace_id);
        return pagedList(request.query as Page, (page) => listMemories(pool, workspace.id, page), memoryView);
      },
    );

    app.delete<{ Params: Static<typeof MemoryParams> }>(
      '/memories/:id',
      { schema: { params: MemoryParams } },
      async (request, reply) => {
        const projectId = projectOf(request).id;
        const memory = await findMemory(pool, projectId, request.params.id);
        if (!memory) throw new ApiError('memory_not_found', undefined, 'id');
        // Whoever's conversation saved it, or an admin.
        if (memory.created_by !== request.principal!.principalId) assertPermission(request, 'manage.write');
        await deleteMemory(pool, projectId, memory.id);
        await appendAudit(pool, {
          projectId,
          ...actorOf(request.principal),
          event: 'memory.deleted',
          subject: memory.id,
          detail: { workspace_id: memory.workspace_id },
        });
        return reply.status(204).send();
      },
    );

    app.get<{ Querystring: Static<typeof ListQuery> }>(
      '/learnings',
      { schema: { querystring: ListQuery } },
      async (request) => {
        const workspace = await workspaceOf(request, request.query.workspace_id);
        return pagedList(request.query as Page, (page) => listLearnings(pool, workspace.id, page), learningView);
      },
    );

    app.post<{ Body: Static<typeof LearningBody> }>(
      '/learnings',
      { schema: { body: LearningBody } },
      async (request, reply) => {
        assertOperator(request);
        const workspace = await workspaceOf(request, request.body.workspace_id);
        const [kept] = await keepLearnings(
          pool,
          { projectId: workspace.project_id, workspaceId: workspace.id, principalId: request.principal!.principalId },
          [{ content: request.body.content, score: request.body.score ?? 0.8, source: 'operator', sourceRef: null }],
        );
        await appendAudit(pool, {
          projectId: workspace.project_id,
          ...actorOf(request.principal),
          event: 'learning.added',
          subject: kept!.id,
          detail: { workspace_id: workspace.id },
        });
        return reply.status(201).send(learningView(kept!));
      },
    );

    app.delete<{ Params: Static<typeof LearningParams> }>(
      '/learnings/:id',
      { schema: { params: LearningParams } },
      async (request, reply) => {
        assertOperator(request);
        const projectId = projectOf(request).id;
        const deleted = await deleteLearning(pool, projectId, request.params.id);
        if (!deleted) throw new ApiError('learning_not_found', undefined, 'id');
        await appendAudit(pool, {
          projectId,
          ...actorOf(request.principal),
          event: 'learning.deleted',
          subject: deleted.id,
          detail: { workspace_id: deleted.workspace_id },
        });
        return reply.status(204).send();
      },
    );

    app.get<{ Querystring: Static<typeof SearchQuery> }>(
      '/search',
      { schema: { querystring: SearchQuery } },
      async (request) => {
        const workspace = await workspaceOf(request, request.query.workspace_id);
        const kinds = (request.query.kinds?.split(',') as SearchKind[] | undefined) ?? [...KINDS];
        const hits = await searchWorkspace(pool, workspace.id, request.query.q, {
          kinds,
          limit: Number(request.query.limit ?? 20),
        });
        return {
          object: 'list',
          data: hits.map((hit) => ({ object: 'search.hit', ...hit, created_at: hit.created_at.toISOString() })),
          has_more: false,
        };
      },
    );
  };
}

/** Learnings steer what the model does next: operators (who may run tools) or admins curate them. */
function assertOperator(request: FastifyRequest): void {
  if (!hasPermission(request, 'manage.write')) assertPermission(request, 'exec.invoke');
}
