import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { keepLearnings } from '../knowledge/learnings.js';
import { learningView, memoryView } from '../knowledge/views.js';
import { actorOf, appendAudit } from '../store/audit-log.js';
import { withTransaction, type Queryable } from '../store/db.js';
import { deleteLearning, listLearnings } from '../store/learnings.js';
import { deleteMemory, findMemory, listMemories } from '../store/memories.js';
import type { Pool } from '../store/pool.js';
import { findDefaultWorkspace } from '../store/projects.js';
import { findWorkspace } from '../store/workspaces.js';
import { SEARCH_KINDS, searchWorkspace, type SearchKind } from '../store/workspace-search.js';
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
import { idParams, PageQuery, pagedList, strict, type Page } from './schemas.js';

const WorkspaceQuery = { workspace_id: Type.Optional(Type.String({ pattern: '^ws_[0-9a-f]{12,48}$' })) };
const ListQuery = Type.Object({ ...PageQuery.properties, ...WorkspaceQuery }, strict);
const MemoryParams = idParams('mem');
const LearningParams = idParams('lrn');
const LearningBody = Type.Object(
  {
    content: Type.String({ minLength: 1, maxLength: 2000 }),
    score: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    ...WorkspaceQuery,
  },
  strict,
);
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
        await withTransaction(pool, async (client) => {
          await deleteMemory(client, projectId, memory.id);
          await audit(client, request, projectId, 'memory.deleted', memory);
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
        const kept = await withTransaction(pool, async (client) => {
          const [learning] = await keepLearnings(
            client,
            { projectId: workspace.project_id, workspaceId: workspace.id, principalId: request.principal!.principalId },
            [{ content: request.body.content, score: request.body.score ?? 0.8, source: 'operator', sourceRef: null }],
          );
          await audit(client, request, workspace.project_id, 'learning.added', learning!);
          return learning!;
        });
        return reply.status(201).send(learningView(kept));
      },
    );

    app.delete<{ Params: Static<typeof LearningParams> }>(
      '/learnings/:id',
      { schema: { params: LearningParams } },
      async (request, reply) => {
        assertOperator(request);
        const projectId = projectOf(request).id;
        const deleted = await withTransaction(pool, async (client) => {
          const gone = await deleteLearning(client, projectId, request.params.id);
          if (gone) await audit(client, request, projectId, 'learning.deleted', gone);
          return gone;
        });
        if (!deleted) throw new ApiError('learning_not_found', undefined, 'id');
        return reply.status(204).send();
      },
    );

    app.get<{ Querystring: Static<typeof SearchQuery> }>(
      '/search',
      { schema: { querystring: SearchQuery } },
      async (request) => {
        const workspace = await workspaceOf(request, request.query.workspace_id);
        const kinds = (request.query.kinds?.split(',') as SearchKind[] | undefined) ?? [...SEARCH_KINDS];
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

/** The audit entry of a change to a memory or learning: the row and its workspace, never its content. */
function audit(
  client: Queryable,
  request: FastifyRequest,
  projectId: string,
  event: string,
  subject: { id: string; workspace_id: string },
) {
  return appendAudit(client, {
    projectId,
    ...actorOf(request.principal),
    event,
    subject: subject.id,
    detail: { workspace_id: subject.workspace_id },
  });
}

/** Learnings steer what the model does next: operators (who may run tools) or admins curate them. */
function assertOperator(request: FastifyRequest): void {
  if (!hasPermission(request, 'manage.write')) assertPermission(request, 'exec.invoke');
}
