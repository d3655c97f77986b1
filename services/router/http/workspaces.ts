import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { savePolicy, findPolicy, type ApprovalPolicy, type PolicyChange } from '../store/approval-policies.js';
import { actorOf, appendAudit } from '../store/audit-log.js';
import type { Pool } from '../store/pool.js';
import type { Workspace } from '../store/projects.js';
import {
  bindAgent,
  createWorkspace,
  findWorkspace,
  listBindings,
  listWorkspaces,
  unbindAgent,
} from '../store/workspaces.js';
import { projectOf } from './auth.js';
import { findMember } from '../store/principals.js';
import { ApiError } from './errors.js';
import { idParams, PageQuery, pagedList, ProjectParams, strict, type Page } from './schemas.js';

const WorkspaceParams = idParams('ws');
type WorkspaceParams = Static<typeof WorkspaceParams>;
const BindingParams = Type.Object(
  { ...WorkspaceParams.properties, agent_id: Type.String({ pattern: '^agt_[0-9a-f]{12,64}$' }) },
  strict,
);
const PolicyParams = Type.Object(
  { project_id: ProjectParams.properties.project_id, workspace_id: Type.String({ pattern: '^ws_[0-9a-f]{12,48}$' }) },
  strict,
);
const CreateBody = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
    type: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' })),
  },
  strict,
);
const BindBody = Type.Object({ agent_id: Type.String({ pattern: '^agt_[0-9a-f]{12,64}$' }) }, strict);
const TimeoutAction = Type.Union([Type.Literal('expire'), Type.Literal('escalate')]);
const Seconds = Type.Integer({ minimum: 1, maximum: 604_800 });
const Principals = Type.Array(Type.String({ pattern: '^(usr|sa)_[0-9a-f]{12,48}$' }), {
  maxItems: 50,
  uniqueItems: true,
});
const Approvers = Type.Union([Type.Literal(1), Type.Literal(2)]);
const PolicyBody = Type.Object(
  {
    timeout_seconds_destructive: Type.Optional(Seconds),
    timeout_seconds_irreversible: Type.Optional(Seconds),
    on_timeout_destructive: Type.Optional(TimeoutAction),
    on_timeout_irreversible: Type.Optional(TimeoutAction),
    allow_self_approval: Type.Optional(Type.Boolean()),
    chat_user_may_approve: Type.Optional(Type.Boolean()),
    min_approvers_destructive: Type.Optional(Approvers),
    min_approvers_irreversible: Type.Optional(Approvers),
    approvers: Type.Optional(Principals),
    escalation_reviewers: Type.Optional(Principals),
    approval_required_read: Type.Optional(Type.Boolean()),
    approval_required_write: Type.Optional(Type.Boolean()),
  },
  { ...strict, minProperties: 1 },
);

export function workspaceView(workspace: Workspace) {
  return {
    object: 'workspace' as const,
    id: workspace.id,
    name: workspace.name,
    is_default: workspace.is_default,
    type: workspace.type,
    created_at: workspace.created_at.toISOString(),
  };
}

function policyView(policy: ApprovalPolicy) {
  const { updated_at: updatedAt, ...rest } = policy;
  return {
    object: 'approval_policy' as const,
    ...rest,
    is_default: updatedAt === null,
    updated_at: updatedAt?.toISOString() ?? null,
  };
}

/** `/:project_id/v1/management`: workspaces, their agent bindings and approval policies. */
export function workspaceRoutes(deps: { readonly pool: Pool }) {
  const workspaceOf = async (projectId: string, id: string) => {
    const workspace = await findWorkspace(deps.pool, projectId, id);
    if (!workspace) throw new ApiError('workspace_not_found', undefined, 'id');
    return workspace;
  };
  return async function register(app: FastifyInstance): Promise<void> {
    app.post<{ Body: Static<typeof CreateBody> }>(
      '/workspaces',
      { schema: { body: CreateBody } },
      async (request, reply) => {
        const project = projectOf(request);
        const workspace = await createWorkspace(deps.pool, project.id, request.body.name, request.body.type ?? null);
        if (!workspace) throw new ApiError('workspace_exists', undefined, 'name');
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'workspace.created',
          subject: workspace.id,
          detail: { name: workspace.name },
        });
        return reply.status(201).send(workspaceView(workspace));
      },
    );

    app.get<{ Querystring: Page }>('/workspaces', { schema: { querystring: PageQuery } }, async (request) =>
      pagedList(request.query, (page) => listWorkspaces(deps.pool, projectOf(request).id, page), workspaceView),
    );

    app.get<{ Params: WorkspaceParams }>('/workspaces/:id', { schema: { params: WorkspaceParams } }, async (request) =>
      workspaceView(await workspaceOf(projectOf(request).id, request.params.id)),
    );

    app.get<{ Params: WorkspaceParams }>(
      '/workspaces/:id/bindings',
      { schema: { params: WorkspaceParams } },
      async (request) => {
        const bindings = await listBindings(deps.pool, await workspaceOf(projectOf(request).id, request.params.id));
        return {
          object: 'list',
          data: bindings.map((binding) => ({
            object: 'binding',
            ...binding,
            created_at: binding.created_at.toISOString(),
          })),
          has_more: false,
        };
      },
    );

    app.post<{ Params: WorkspaceParams; Body: Static<typeof BindBody> }>(
      '/workspaces/:id/bindings',
      { schema: { params: WorkspaceParams, body: BindBody } },
      async (request, reply) => {
        const project = projectOf(request);
        const workspace = await workspaceOf(project.id, request.params.id);
        const binding = await bindAgent(deps.pool, workspace, request.body.agent_id, request.principal?.keyId ?? null);
        if (!binding) throw new ApiError('agent_not_bindable', undefined, 'agent_id');
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'workspace.agent_bound',
          subject: workspace.id,
          detail: { agent_id: binding.agent_id },
        });
        return reply.status(201).send({ object: 'binding', ...binding, created_at: binding.created_at.toISOString() });
      },
    );

    app.delete<{ Params: Static<typeof BindingParams> }>(
      '/workspaces/:id/bindings/:agent_id',
      { schema: { params: BindingParams } },
      async (request) => {
        const project = projectOf(request);
        const workspace = await workspaceOf(project.id, request.params.id);
        if (!(await unbindAgent(deps.pool, workspace, request.params.agent_id)))
          throw new ApiError('binding_not_found', undefined, 'agent_id');
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'workspace.agent_unbound',
          subject: workspace.id,
          detail: { agent_id: request.params.agent_id },
        });
        return { object: 'binding', workspace_id: workspace.id, agent_id: request.params.agent_id, deleted: true };
      },
    );

    app.get<{ Params: Static<typeof PolicyParams> }>(
      '/approval-policies/:workspace_id',
      { schema: { params: PolicyParams } },
      async (request) => {
        const workspace = await workspaceOf(projectOf(request).id, request.params.workspace_id);
        return policyView(await findPolicy(deps.pool, workspace.id));
      },
    );

    app.patch<{ Params: Static<typeof PolicyParams>; Body: Static<typeof PolicyBody> }>(
      '/approval-policies/:workspace_id',
      { schema: { params: PolicyParams, body: PolicyBody } },
      async (request) => {
        const project = projectOf(request);
        const workspace = await workspaceOf(project.id, request.params.workspace_id);
        await mustBeMembers(deps.pool, project.id, request.body.approvers, 'approvers');
        await mustBeMembers(deps.pool, project.id, request.body.escalation_reviewers, 'escalation_reviewers');
        const saved = await savePolicy(deps.pool, project.id, workspace.id, request.body as PolicyChange);
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'approval_policy.changed',
          subject: workspace.id,
          detail: { change: request.body },
        });
        return policyView(saved);
      },
    );
  };
}

/** Lists of people in a policy name members of the project: a typo must not lock approvals out. */
async function mustBeMembers(pool: Pool, projectId: string, ids: readonly string[] | undefined, field: string) {
  for (const id of ids ?? []) {
    if (!(await findMember(pool, projectId, id)))
      throw new ApiError('invalid_body', `${field}: ${id} is not a member of this project`, field);
  }
}
