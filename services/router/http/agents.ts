import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import { randomBytes } from 'node:crypto';
import { announceAgentChange, announceCurveRotation } from '../mesh/agent-changes.js';
import { actorOf, appendAudit, listAudit } from '../store/audit-log.js';
import { findAgent, findAgentManifest, listAgents, revokeAgent, type AgentRecord } from '../store/agents.js';
import type { Pool } from '../store/pool.js';
import { setExecPaused } from '../store/workspaces.js';
import { projectOf } from './auth.js';
import { ApiError } from './errors.js';
import { idParams, PageQuery, pagedList, type Page } from './schemas.js';

const AgentParams = idParams('agt');
type AgentParams = Static<typeof AgentParams>;

export function agentView(agent: AgentRecord) {
  return {
    object: 'agent' as const,
    id: agent.id,
    role: agent.role,
    registration_name: agent.registration_name,
    region: agent.region,
    status: agent.status,
    exec_paused: agent.exec_paused,
    scope: agent.scope,
    manifest_hash: agent.manifest_hash,
    manifest_version: agent.manifest_version,
    enrolled_at: agent.enrolled_at.toISOString(),
    last_heartbeat: agent.last_heartbeat?.toISOString() ?? null,
    revoked_at: agent.revoked_at?.toISOString() ?? null,
  };
}

export interface AgentRouteDependencies {
  readonly pool: Pool;
  /** Tells the mesh to drop a revoked agent's connections now. */
  readonly onAgentRevoked?: (agentId: string) => void;
  /** Queued work may now have an agent again. */
  readonly onExecResumed?: () => void;
  /** Set while the router serves a next CURVE key: what agents are moved to. */
  readonly curveRotation?: { readonly publicKey: string; readonly endpoint: () => string };
}

/** `/:project_id/v1/management/agents`: list, show, tools, events, pause, revoke-credentials, curve-rotate. */
export function agentRoutes(deps: AgentRouteDependencies) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: Page }>('/agents', { schema: { querystring: PageQuery } }, async (request) =>
      pagedList(request.query, (page) => listAgents(deps.pool, projectOf(request).id, page), agentView),
    );

    app.get<{ Params: AgentParams }>('/agents/:id', { schema: { params: AgentParams } }, async (request) => {
      const agent = await findAgent(deps.pool, projectOf(request).id, request.params.id);
      if (!agent) throw new ApiError('agent_not_found', undefined, 'id');
      return agentView(agent);
    });

    // The agent's tool catalog as its manifest last published it (the exec API offers these).
    app.get<{ Params: AgentParams }>('/agents/:id/tools', { schema: { params: AgentParams } }, async (request) => {
      const found = await findAgentManifest(deps.pool, projectOf(request).id, request.params.id);
      if (!found) throw new ApiError('agent_not_found', undefined, 'id');
      const manifest = (found.manifest ?? {}) as { tools?: unknown[]; workspaces?: unknown[] };
      return {
        object: 'list',
        agent_id: request.params.id,
        manifest_version: found.manifest_version,
        workspaces: manifest.workspaces ?? [],
        data: manifest.tools ?? [],
      };
    });

    app.get<{ Params: AgentParams }>('/agents/:id/events', { schema: { params: AgentParams } }, async (request) => {
      const project = projectOf(request);
      if (!(await findAgent(deps.pool, project.id, request.params.id)))
        throw new ApiError('agent_not_found', undefined, 'id');
      const events = await listAudit(deps.pool, project.id, { subject: request.params.id, limit: 100 });
      return {
        object: 'list',
        data: events.map((event) => ({
          id: event.position,
          event: event.event,
          actor: event.actor,
          detail: event.detail,
          at: event.at.toISOString(),
        })),
      };
    });

    for (const [action, paused] of [
      ['pause-exec', true],
      ['resume-exec', false],
    ] as const) {
      app.post<{ Params: AgentParams }>(
        `/agents/:id/${action}`,
        { schema: { params: AgentParams } },
        async (request) => {
          const project = projectOf(request);
          if (!(await setExecPaused(deps.pool, project.id, request.params.id, paused)))
            throw new ApiError('agent_not_found', 'No such XEM agent in this project', 'id');
          await appendAudit(deps.pool, {
            projectId: project.id,
            ...actorOf(request.principal),
            event: paused ? 'agent.exec_paused' : 'agent.exec_resumed',
            subject: request.params.id,
          });
          if (!paused) deps.onExecResumed?.();
          const agent = await findAgent(deps.pool, project.id, request.params.id);
          return agentView(agent!);
        },
      );
    }

    // Every replica tells the project's agents it holds to move to the next key (curve.rotate);
    // each agent fetches the key over HTTPS and reconnects, keeping its enrollment and state.
    app.post('/agents/curve-rotate', async (request, reply) => {
      if (!deps.curveRotation) throw new ApiError('curve_rotation_not_configured');
      const project = projectOf(request);
      const rotationId = `rot_${randomBytes(12).toString('hex')}`;
      await appendAudit(deps.pool, {
        projectId: project.id,
        ...actorOf(request.principal),
        event: 'mesh.curve_rotate',
        subject: rotationId,
        detail: { router_curve_public_key: deps.curveRotation.publicKey },
      });
      await announceCurveRotation(deps.pool, { project_id: project.id, rotation_id: rotationId });
      return reply.status(202).send({
        object: 'curve_rotation',
        id: rotationId,
        router_curve_public_key: deps.curveRotation.publicKey,
        mesh_endpoint: deps.curveRotation.endpoint(),
      });
    });

    app.post<{ Params: AgentParams }>(
      '/agents/:id/revoke-credentials',
      { schema: { params: AgentParams } },
      async (request) => {
        const project = projectOf(request);
        const agent = await revokeAgent(deps.pool, project.id, request.params.id);
        if (!agent) throw new ApiError('agent_not_found', undefined, 'id');
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'agent.credentials_revoked',
          subject: agent.id,
        });
        await announceAgentChange(deps.pool, { agent_id: agent.id, change: 'revoked' });
        deps.onAgentRevoked?.(agent.id);
        return agentView(agent);
      },
    );
  };
}
