import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { actorOf, appendAudit } from '../store/audit-log.js';
import type { Pool } from '../store/pool.js';
import {
  deleteRiskOverride,
  listRiskOverrideRecords,
  saveRiskOverride,
  type RiskOverrideRecord,
} from '../store/tool-offers.js';
import { findWorkspace } from '../store/workspaces.js';
import { projectOf } from './auth.js';
import { ApiError } from './errors.js';
import { ProjectParams, strict } from './schemas.js';

const WorkspaceParams = Type.Object(
  { project_id: ProjectParams.properties.project_id, id: Type.String({ pattern: '^ws_[0-9a-f]{12,48}$' }) },
  strict,
);
const ToolRiskParams = Type.Object(
  { ...WorkspaceParams.properties, tool: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }) },
  strict,
);
// `read` is never an override: an override only ever makes a tool stricter than agents declare it.
const OverrideBody = Type.Object(
  {
    risk: Type.Union([Type.Literal('write'), Type.Literal('destructive'), Type.Literal('irreversible')]),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  strict,
);

function overrideView(record: RiskOverrideRecord) {
  return {
    object: 'tool_risk_override' as const,
    workspace_id: record.workspace_id,
    tool: record.tool,
    risk: record.risk,
    reason: record.reason,
    created_by: record.created_by,
    created_at: record.created_at.toISOString(),
  };
}

/**
 * `/:project_id/v1/management/workspaces/:id/tool-risks`: an operator raises a tool's risk in one
 * workspace (say, `pg_vacuum` needs approval in production). The effective risk is the stricter
 * of the override and every bound agent's declaration, so an override never lowers a risk.
 */
export function toolRiskRoutes(deps: { readonly pool: Pool }) {
  const workspaceOf = async (projectId: string, id: string) => {
    const workspace = await findWorkspace(deps.pool, projectId, id);
    if (!workspace) throw new ApiError('workspace_not_found', undefined, 'id');
    return workspace;
  };
  return async function register(app: FastifyInstance): Promise<void> {
    app.get<{ Params: Static<typeof WorkspaceParams> }>(
      '/workspaces/:id/tool-risks',
      { schema: { params: WorkspaceParams } },
      async (request) => {
        const workspace = await workspaceOf(projectOf(request).id, request.params.id);
        return {
          object: 'list',
          data: (await listRiskOverrideRecords(deps.pool, workspace.id)).map(overrideView),
          has_more: false,
        };
      },
    );

    app.put<{ Params: Static<typeof ToolRiskParams>; Body: Static<typeof OverrideBody> }>(
      '/workspaces/:id/tool-risks/:tool',
      { schema: { params: ToolRiskParams, body: OverrideBody } },
      async (request) => {
        const project = projectOf(request);
        const workspace = await workspaceOf(project.id, request.params.id);
        const saved = await saveRiskOverride(deps.pool, {
          projectId: project.id,
          workspaceId: workspace.id,
          tool: request.params.tool,
          risk: request.body.risk,
          reason: request.body.reason ?? null,
          createdBy: request.principal?.keyId ?? null,
        });
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'tool.risk_raised',
          subject: workspace.id,
          detail: { tool: saved.tool, risk: saved.risk, reason: saved.reason },
        });
        return overrideView(saved);
      },
    );

    app.delete<{ Params: Static<typeof ToolRiskParams> }>(
      '/workspaces/:id/tool-risks/:tool',
      { schema: { params: ToolRiskParams } },
      async (request) => {
        const project = projectOf(request);
        const workspace = await workspaceOf(project.id, request.params.id);
        if (!(await deleteRiskOverride(deps.pool, workspace.id, request.params.tool)))
          throw new ApiError('tool_risk_override_not_found', undefined, 'tool');
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'tool.risk_override_removed',
          subject: workspace.id,
          detail: { tool: request.params.tool },
        });
        return { object: 'tool_risk_override', workspace_id: workspace.id, tool: request.params.tool, deleted: true };
      },
    );
  };
}
