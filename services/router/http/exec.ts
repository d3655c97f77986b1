import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { advanceInvocation } from '../exec/advance.js';
import { createInvocation } from '../exec/create-invocation.js';
import type { ExecEvent, ExecEventHub } from '../exec/exec-events.js';
import { FINAL_STATES, INVOCATION_STATES, RISKS } from '../exec/invocation-state.js';
import type { ArgumentValidator } from '../exec/tool-catalog.js';
import type { WorkspaceCatalogs } from '../exec/workspace-catalog.js';
import { findApprovalOf } from '../store/approvals.js';
import { actorOf, subjectHistory } from '../store/audit-log.js';
import type { Transactor } from '../store/batcher.js';
import { withTransaction } from '../store/db.js';
import { findExecResult, fullOutput } from '../store/exec-results.js';
import { findInvocation, listInvocations, type InvocationFilter } from '../store/invocations.js';
import type { Pool } from '../store/pool.js';
import { findDefaultWorkspace } from '../store/projects.js';
import { findWorkspace } from '../store/workspaces.js';
import { projectOf } from './auth.js';
import { ApiError } from './errors.js';
import { invocationView, toolView } from './exec-views.js';
import { idParams, PageQuery, pagedList, ProjectParams, strict, type Page } from './schemas.js';
import { openSse } from './sse.js';
import { traced } from './request-tracing.js';

const ToolName = Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' });
const ToolParams = Type.Object({ project_id: ProjectParams.properties.project_id, name: ToolName }, strict);
const ToolQuery = Type.Object(
  { workspace_id: Type.Optional(Type.String({ pattern: '^ws_[0-9a-f]{12,48}$' })) },
  strict,
);
const InvocationParams = idParams('inv');
type InvocationParams = Static<typeof InvocationParams>;
const State = Type.Union(INVOCATION_STATES.map((state) => Type.Literal(state)));
const RiskLevel = Type.Union(RISKS.map((risk) => Type.Literal(risk)));
const WorkspaceId = Type.String({ pattern: '^ws_[0-9a-f]{12,48}$' });
const InvocationQuery = Type.Object(
  {
    ...PageQuery.properties,
    state: Type.Optional(State),
    tool: Type.Optional(ToolName),
    risk: Type.Optional(RiskLevel),
    workspace_id: Type.Optional(WorkspaceId),
  },
  strict,
);
const CreateBody = Type.Object(
  {
    tool: ToolName,
    workspace_id: Type.Optional(WorkspaceId),
    args: Type.Record(Type.String(), Type.Unknown()),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
  },
  // The arguments travel in a dispatch frame: refused here if the mesh could not carry them.
  { ...strict, wireSafe: true },
);
const ResolveBody = Type.Object(
  {
    outcome: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
    note: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  strict,
);
const CancelBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, strict);

export interface ExecRouteDependencies {
  readonly pool: Pool;
  readonly hub: ExecEventHub;
  readonly validator: ArgumentValidator;
  /** Each workspace's tools, decided from its bound agents. */
  readonly catalogs: WorkspaceCatalogs;
  /** Group commit for new invocations; a plain transaction each when unset. */
  readonly transact?: Transactor;
  /** Called before an invocation is stored; throws a 429 when a limit is hit. */
  readonly admitInvocation?: (
    request: FastifyRequest,
    target: { projectId: string; workspaceId: string; tool: string },
  ) => Promise<void>;
}

/** `/:project_id/v1/exec`: the tool catalog and invocations (approvals live in approvals.ts). */
export function execRoutes(deps: ExecRouteDependencies) {
  const catalog = (projectId: string, workspaceId: string) => deps.catalogs.get(projectId, workspaceId);
  return async function register(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: Static<typeof ToolQuery> }>(
      '/tools',
      { schema: { querystring: ToolQuery } },
      async (request) => {
        const project = projectOf(request);
        const workspaceId = await resolveWorkspace(deps.pool, project.id, request.query.workspace_id);
        const tools = [...(await catalog(project.id, workspaceId)).values()].sort((a, b) =>
          a.name.localeCompare(b.name),
        );
        return { object: 'list', data: tools.map((tool) => toolView(tool, workspaceId)), has_more: false };
      },
    );

    app.get<{ Params: Static<typeof ToolParams>; Querystring: Static<typeof ToolQuery> }>(
      '/tools/:name',
      { schema: { params: ToolParams, querystring: ToolQuery } },
      async (request) => {
        const project = projectOf(request);
        const workspaceId = await resolveWorkspace(deps.pool, project.id, request.query.workspace_id);
        const tool = (await catalog(project.id, workspaceId)).get(request.params.name);
        if (!tool)
          throw new ApiError(
            'exec_tool_not_found',
            `No XEM agent bound to workspace ${workspaceId} offers ${request.params.name}`,
            'name',
          );
        return toolView(tool, workspaceId);
      },
    );

    app.post<{ Body: Static<typeof CreateBody> }>(
      '/invocations',
      { schema: { body: CreateBody } },
      async (request, reply) => {
        const project = projectOf(request);
        const workspaceId = await resolveWorkspace(deps.pool, project.id, request.body.workspace_id);
        const tool = (await catalog(project.id, workspaceId)).get(request.body.tool);
        if (!tool)
          throw new ApiError(
            'exec_tool_not_found',
            `Tool '${request.body.tool}' is not offered by any XEM agent bound to workspace ${workspaceId}`,
            'tool',
            400,
          );
        await deps.admitInvocation?.(request, { projectId: project.id, workspaceId, tool: tool.name });
        const created = await createInvocation(
          deps.pool,
          deps.validator,
          {
            projectId: project.id,
            workspaceId,
            tool,
            args: request.body.args,
            requester: request.principal!,
            ...traced(request),
            ...(request.body.timeout_ms ? { timeoutMs: request.body.timeout_ms } : {}),
          },
          deps.transact,
        );
        return reply
          .status(201)
          .send(invocationView(created.invocation, { approval_id: created.approval?.id ?? null }));
      },
    );

    app.get<{ Querystring: Static<typeof InvocationQuery> }>(
      '/invocations',
      { schema: { querystring: InvocationQuery } },
      async (request) => {
        const { limit: _limit, after: _after, ...filter } = request.query as InvocationFilter & Page;
        return pagedList(
          request.query,
          (page) => listInvocations(deps.pool, projectOf(request).id, { ...filter, ...page }),
          (row) => invocationView(row),
        );
      },
    );

    app.get<{ Params: InvocationParams }>(
      '/invocations/:id',
      { schema: { params: InvocationParams } },
      async (request) => {
        const project = projectOf(request);
        const invocation = await findInvocation(deps.pool, project.id, request.params.id);
        if (!invocation) throw new ApiError('invocation_not_found', undefined, 'id');
        const approval = await findApprovalOf(deps.pool, invocation.id);
        return invocationView(invocation, {
          approval_id: approval?.id ?? null,
          history: await subjectHistory(deps.pool, project.id, invocation.id),
        });
      },
    );

    app.get<{ Params: InvocationParams }>(
      '/invocations/:id/output',
      { schema: { params: InvocationParams } },
      async (request) => {
        const invocation = await findInvocation(deps.pool, projectOf(request).id, request.params.id);
        if (!invocation) throw new ApiError('invocation_not_found', undefined, 'id');
        const result =
          invocation.attempt > 0
            ? await findExecResult(deps.pool, invocation.id, invocation.attempt, invocation.project_id)
            : undefined;
        if (!result) throw new ApiError('exec_result_not_found', undefined, 'id');
        const { output, complete } = await fullOutput(deps.pool, result);
        return {
          object: 'invocation_output',
          invocation_id: invocation.id,
          attempt: result.attempt,
          status: result.status,
          exit_code: result.exit_code,
          output,
          output_complete: complete,
          output_truncated: result.output_truncated,
        };
      },
    );

    app.post<{ Params: InvocationParams; Body: Static<typeof CancelBody> }>(
      '/invocations/:id/cancel',
      {
        schema: { params: InvocationParams, body: CancelBody },
        preValidation: async (request) => void (request.body ??= {}),
      },
      async (request) =>
        applyOperatorEvent(
          deps.pool,
          request,
          { type: 'cancel' },
          request.body.reason ? { reason: request.body.reason } : {},
        ),
    );

    app.post<{ Params: InvocationParams; Body: Static<typeof ResolveBody> }>(
      '/invocations/:id/resolve',
      { schema: { params: InvocationParams, body: ResolveBody } },
      async (request) =>
        applyOperatorEvent(
          deps.pool,
          request,
          { type: 'resolved', outcome: request.body.outcome },
          request.body.note ? { note: request.body.note } : {},
        ),
    );

    app.get<{ Params: InvocationParams }>(
      '/invocations/:id/events',
      { schema: { params: InvocationParams } },
      async (request, reply) => {
        const project = projectOf(request);
        if (!(await findInvocation(deps.pool, project.id, request.params.id)))
          throw new ApiError('invocation_not_found', undefined, 'id');
        streamInvocation(deps, request, reply, project.id, request.params.id);
      },
    );

    app.get('/events', async (request, reply) => {
      const projectId = projectOf(request).id;
      let unsubscribe = () => undefined as void;
      const stream = openSse(request, reply, () => unsubscribe());
      unsubscribe = deps.hub.subscribe(projectId, null, (event) => stream.send(event.kind, event));
    });
  };
}

async function resolveWorkspace(db: Pool, projectId: string, workspaceId: string | undefined): Promise<string> {
  const workspace = workspaceId
    ? await findWorkspace(db, projectId, workspaceId)
    : await findDefaultWorkspace(db, projectId);
  if (!workspace) throw new ApiError('workspace_not_found', undefined, 'workspace_id');
  return workspace.id;
}

async function applyOperatorEvent(
  db: Pool,
  request: FastifyRequest<{ Params: InvocationParams }>,
  event: Parameters<typeof advanceInvocation>[2],
  detail: Record<string, unknown>,
) {
  const project = projectOf(request);
  const outcome = await withTransaction(db, (client) =>
    advanceInvocation(client, request.params.id, event, {
      ...actorOf(request.principal),
      projectId: project.id,
      detail,
    }),
  );
  if (outcome.status === 'not_found') throw new ApiError('invocation_not_found', undefined, 'id');
  if (outcome.status === 'refused')
    throw new ApiError(
      event.type === 'resolved' && !FINAL_STATES.has(outcome.invocation.state)
        ? 'invocation_not_ambiguous'
        : 'invocation_final',
    );
  return invocationView(outcome.invocation);
}

/** State changes and progress of one invocation, from whichever router hears them; ends at a final state. */
function streamInvocation(
  deps: ExecRouteDependencies,
  request: FastifyRequest,
  reply: Parameters<typeof openSse>[1],
  projectId: string,
  invocationId: string,
): void {
  let unsubscribe = () => undefined as void;
  const stream = openSse(request, reply, () => unsubscribe());
  const onEvent = (event: ExecEvent) => {
    stream.send(event.kind, event);
    if (event.kind === 'state' && FINAL_STATES.has(event.state)) stream.end();
  };
  // Subscribe before reading the snapshot, so nothing falls between the two.
  unsubscribe = deps.hub.subscribe(projectId, invocationId, onEvent);
  void findInvocation(deps.pool, projectId, invocationId).then((current) => {
    if (!current || stream.closed) return;
    onEvent({
      kind: 'state',
      project_id: projectId,
      invocation_id: invocationId,
      state: current.state,
      attempt: current.attempt,
      agent_id: current.agent_id,
      at: current.updated_at.toISOString(),
    });
  });
}
