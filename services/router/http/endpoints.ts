import type { FastifyInstance } from 'fastify';
import { workspaceNamed } from '../loop/servers.js';
import Type, { type Static } from 'typebox';
import { actorOf, appendAudit } from '../store/audit-log.js';
import {
  deleteEndpoint,
  findEndpoint,
  insertEndpoint,
  listEndpoints,
  SERVICE_TIERS,
  updateEndpoint,
  type EndpointRecord,
} from '../store/endpoints.js';
import type { Pool } from '../store/pool.js';
import { projectOf } from './auth.js';
import { ApiError } from './errors.js';
import { PageQuery, pagedList, ProjectParams, strict, type Page } from './schemas.js';

const Slug = Type.String({ pattern: '^(?!v1$)[a-z0-9][a-z0-9-]{0,62}$' });
const EndpointParams = Type.Object(
  {
    project_id: ProjectParams.properties.project_id,
    id: Type.String({ pattern: '^(ep_[0-9a-f]{12,48}|[a-z0-9][a-z0-9-]{0,62})$' }),
  },
  strict,
);
type EndpointParams = Static<typeof EndpointParams>;
const Models = Type.Array(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9._:/-]*$' }), {
  minItems: 1,
  maxItems: 16,
  uniqueItems: true,
});
const Tier = Type.Union(SERVICE_TIERS.map((tier) => Type.Literal(tier)));
const Defaults = Type.Object(
  {
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
    max_output_tokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    instructions: Type.Optional(Type.String({ maxLength: 32_000 })),
    // Plain requests get this workspace's tools (docs/conversations.md).
    workspace: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  strict,
);
const CreateBody = Type.Object(
  { slug: Slug, models: Models, service_tier: Tier, defaults: Type.Optional(Defaults) },
  strict,
);
const UpdateBody = Type.Object(
  { models: Type.Optional(Models), service_tier: Type.Optional(Tier), defaults: Type.Optional(Defaults) },
  { ...strict, minProperties: 1 },
);

function endpointView(endpoint: EndpointRecord) {
  return {
    object: 'endpoint' as const,
    id: endpoint.id,
    slug: endpoint.slug,
    models: endpoint.models,
    service_tier: endpoint.service_tier,
    defaults: endpoint.defaults,
    created_at: endpoint.created_at.toISOString(),
    updated_at: endpoint.updated_at.toISOString(),
  };
}

/** `/:project_id/v1/management/endpoints`: what each `/:project_id/:slug/v1/…` serves. */
export function endpointRoutes(deps: { readonly pool: Pool }) {
  const endpointOf = async (projectId: string, idOrSlug: string) => {
    const endpoint = await findEndpoint(deps.pool, projectId, idOrSlug);
    if (!endpoint) throw new ApiError('endpoint_not_found', undefined, 'id');
    return endpoint;
  };
  return async function register(app: FastifyInstance): Promise<void> {
    app.post<{ Body: Static<typeof CreateBody> }>(
      '/endpoints',
      { schema: { body: CreateBody } },
      async (request, reply) => {
        const project = projectOf(request);
        await assertWorkspace(deps.pool, project.id, request.body.defaults);
        const endpoint = await insertEndpoint(deps.pool, project.id, {
          ...request.body,
          defaults: request.body.defaults ?? {},
        });
        if (!endpoint) throw new ApiError('endpoint_exists', undefined, 'slug');
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'endpoint.created',
          subject: endpoint.id,
          detail: { slug: endpoint.slug, models: endpoint.models, service_tier: endpoint.service_tier },
        });
        return reply.status(201).send(endpointView(endpoint));
      },
    );

    app.get<{ Querystring: Page }>('/endpoints', { schema: { querystring: PageQuery } }, async (request) =>
      pagedList(request.query, (page) => listEndpoints(deps.pool, projectOf(request).id, page), endpointView),
    );

    app.get<{ Params: EndpointParams }>('/endpoints/:id', { schema: { params: EndpointParams } }, async (request) =>
      endpointView(await endpointOf(projectOf(request).id, request.params.id)),
    );

    app.patch<{ Params: EndpointParams; Body: Static<typeof UpdateBody> }>(
      '/endpoints/:id',
      { schema: { params: EndpointParams, body: UpdateBody } },
      async (request) => {
        const project = projectOf(request);
        const current = await endpointOf(project.id, request.params.id);
        await assertWorkspace(deps.pool, project.id, request.body.defaults);
        const updated = await updateEndpoint(deps.pool, project.id, current.id, request.body);
        if (!updated) throw new ApiError('endpoint_not_found', undefined, 'id');
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'endpoint.changed',
          subject: current.id,
          detail: { change: request.body },
        });
        return endpointView(updated);
      },
    );

    app.delete<{ Params: EndpointParams }>(
      '/endpoints/:id',
      { schema: { params: EndpointParams } },
      async (request) => {
        const project = projectOf(request);
        const current = await endpointOf(project.id, request.params.id);
        await deleteEndpoint(deps.pool, project.id, current.id);
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'endpoint.deleted',
          subject: current.id,
          detail: { slug: current.slug },
        });
        return { object: 'endpoint', id: current.id, deleted: true };
      },
    );
  };
}

/** An endpoint's default workspace must be one of the project's. */
async function assertWorkspace(pool: Pool, projectId: string, defaults: { workspace?: string } | undefined) {
  if (defaults?.workspace && !(await workspaceNamed(pool, projectId, defaults.workspace)))
    throw new ApiError(
      'invalid_parameter',
      `No workspace "${defaults.workspace}" in this project`,
      'defaults.workspace',
    );
}
