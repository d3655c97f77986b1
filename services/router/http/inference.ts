import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import type { Logger } from '../../runtime/logger.js';
import type { InferenceRuntime } from '../inference/runtime.js';
import { EndpointCache } from '../inference/endpoint-cache.js';
import { servedModels } from '../store/agents.js';
import { findEndpoint } from '../store/endpoints.js';
import type { Pool } from '../store/pool.js';
import { authenticateApiKey, projectOf, requirePermission, requireProjectAccess } from './auth.js';
import { ApiError } from './errors.js';
import { limitApiKeys, type RateLimitSettings } from './rate-limits.js';
import { chatCompletionsRoute } from './chat-completions.js';
import { EndpointPath } from './inference-schemas.js';
import { responsesRoutes } from './responses.js';
import type { InferenceHttpDeps } from './inference-run.js';

/**
 * `/:project_id/:endpoint_slug/v1/*` with the `inference` scope: `responses`, `chat/completions`
 * and `GET models` — the endpoint's models as OpenAI lists them, each saying whether an XIM
 * agent serves it now and whether it is a scripted stand-in (never to be mistaken for a real model).
 */
export function inferenceRoutes(deps: {
  readonly pool: Pool;
  readonly logger: Logger;
  readonly inference: InferenceRuntime;
  readonly rateLimits?: RateLimitSettings;
  readonly exec?: InferenceHttpDeps['exec'];
  readonly live?: InferenceHttpDeps['live'];
  readonly learner?: InferenceHttpDeps['learner'];
}) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticateApiKey({ db: deps.pool }));
    app.addHook('preHandler', requireProjectAccess({ db: deps.pool }));
    app.addHook('preHandler', requirePermission('inference.use', 'inference.use'));
    if (deps.rateLimits) app.addHook('preHandler', limitApiKeys(deps.rateLimits));
    const serving = {
      pool: deps.pool,
      logger: deps.logger,
      dispatch: deps.inference.dispatch,
      broker: deps.inference.broker,
      endpoints: new EndpointCache(deps.pool),
      ...(deps.inference.metrics ? { metrics: deps.inference.metrics } : {}),
      ...(deps.exec ? { exec: deps.exec } : {}),
      ...(deps.live ? { live: deps.live } : {}),
      ...(deps.learner ? { learner: deps.learner } : {}),
    };
    chatCompletionsRoute(app, serving);
    responsesRoutes(app, serving);

    app.get<{ Params: Static<typeof EndpointPath> }>(
      '/models',
      { schema: { params: EndpointPath } },
      async (request) => {
        const project = projectOf(request);
        const endpoint = await findEndpoint(deps.pool, project.id, request.params.endpoint_slug);
        if (!endpoint || endpoint.slug !== request.params.endpoint_slug)
          throw new ApiError(
            'endpoint_not_found',
            `No endpoint "${request.params.endpoint_slug}" in this project`,
            'endpoint_slug',
          );
        const served = new Map((await servedModels(deps.pool, project.id)).map((row) => [row.model, row]));
        const created = Math.floor(endpoint.created_at.getTime() / 1_000);
        return {
          object: 'list',
          data: endpoint.models.map((model) => ({
            id: model,
            object: 'model',
            created,
            owned_by: served.get(model)?.scripted ? 'xerotier-scripted' : 'xerotier',
            available: served.has(model),
            scripted: served.get(model)?.scripted ?? false,
            service_tier: endpoint.service_tier,
          })),
        };
      },
    );
  };
}
