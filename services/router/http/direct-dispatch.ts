import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { makeFrame, type Frame } from '../../protocol/frame.js';
import { findAgentManifest } from '../store/agents.js';
import { findExecResult, fullOutput } from '../store/exec-results.js';
import { newId } from '../store/ids.js';
import type { Pool } from '../store/pool.js';
import { projectOf } from './auth.js';
import { ApiError } from './errors.js';
import { idParams, ProjectParams } from './schemas.js';

const AgentParams = idParams('agt');
const ResultParams = Type.Object({ project_id: ProjectParams.properties.project_id, invocation_id: Type.String({ pattern: '^inv_[0-9a-f]{12,64}$' }) }, { additionalProperties: false });
const DispatchBody = Type.Object(
  {
    tool: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }),
    workspace_id: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,128}$' }),
    args: Type.Record(Type.String(), Type.Unknown()),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
  },
  { additionalProperties: false },
);

export interface DirectDispatchDependencies {
  readonly pool: Pool;
  /** Sends a frame to a connected agent; false when it is not connected here. */
  readonly sendToAgent: (agentId: string, frame: Frame) => Promise<boolean>;
}

/**
 * Development and test only (XEROTIER_ROUTER_DIRECT_DISPATCH): send one tool call straight to a
 * named agent and read its recorded result. It bypasses approvals and the invocation records
 * the exec API keeps, so it is off unless asked for.
 */
export function directDispatchRoutes(deps: DirectDispatchDependencies) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.post<{ Params: Static<typeof AgentParams>; Body: Static<typeof DispatchBody> }>('/agents/:id/dispatch', { schema: { params: AgentParams, body: DispatchBody } }, async (request, reply) => {
      const found = await findAgentManifest(deps.pool, projectOf(request).id, request.params.id);
      if (!found) throw new ApiError('agent_not_found', undefined, 'id');
      const tools = ((found.manifest ?? {}) as { tools?: { name: string; risk: 'read' | 'write' | 'destructive' | 'irreversible'; timeout_ms: number }[] }).tools ?? [];
      const tool = tools.find((candidate) => candidate.name === request.body.tool);
      if (!tool) throw new ApiError('exec_tool_not_found', undefined, 'tool');
      const invocationId = newId('inv');
      const frame = makeFrame('exec.dispatch', {
        invocation_id: invocationId, attempt: 1, tool: tool.name, workspace_id: request.body.workspace_id, risk: tool.risk, args: request.body.args,
        timeout_ms: request.body.timeout_ms ?? tool.timeout_ms, not_after: Date.now() + 60_000,
      });
      if (!(await deps.sendToAgent(request.params.id, frame))) throw new ApiError('tool_executor_unavailable');
      return reply.code(202).send({ object: 'dispatch', invocation_id: invocationId, attempt: 1, agent_id: request.params.id, tool: tool.name });
    });

    app.get<{ Params: Static<typeof ResultParams> }>('/exec-results/:invocation_id', { schema: { params: ResultParams } }, async (request) => {
      const result = await findExecResult(deps.pool, request.params.invocation_id, 1, projectOf(request).id);
      if (!result) throw new ApiError('exec_result_not_found', undefined, 'invocation_id');
      const { signature: _signature, frame_id: _frameId, ...shown } = result;
      const { output, complete } = await fullOutput(deps.pool, result);
      return { object: 'exec_result', ...shown, output, output_complete: complete, received_at: result.received_at.toISOString() };
    });
  };
}
