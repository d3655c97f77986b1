import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { seal } from '../../runtime/sealed.js';
import { actorOf, appendAudit } from '../store/audit-log.js';
import { newId } from '../store/ids.js';
import type { Pool } from '../store/pool.js';
import {
  deleteEndpoint,
  findEndpoint,
  insertEndpoint,
  listDeliveries,
  listEndpoints,
  type DeliveryRecord,
  type WebhookEndpointRecord,
} from '../store/webhooks.js';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/events.js';
import { decideTarget, type TargetAllowlist } from '../webhooks/target-policy.js';
import { isIP } from 'node:net';
import { projectOf } from './auth.js';
import { ApiError } from './errors.js';
import { idParams, PageQuery, pagedList, strict, type Page } from './schemas.js';

const EndpointParams = idParams('wh');
type EndpointParams = Static<typeof EndpointParams>;
const CreateBody = Type.Object(
  {
    url: Type.String({ minLength: 8, maxLength: 2048, pattern: '^https?://' }),
    events: Type.Array(Type.Union(WEBHOOK_EVENT_TYPES.map((type) => Type.Literal(type))), {
      minItems: 1,
      maxItems: 50,
      uniqueItems: true,
    }),
    description: Type.Optional(Type.String({ maxLength: 500 })),
  },
  strict,
);

export interface WebhookSettings {
  /** The at-rest key endpoint secrets are sealed with. */
  readonly secretKey: Buffer;
  /** Development and tests only: allow plain-http endpoint URLs. */
  readonly allowHttp: boolean;
  /** Internal receivers an operator allowed (XEROTIER_WEBHOOKS_ALLOWED_TARGETS). */
  readonly allow: TargetAllowlist;
}

function endpointView(endpoint: WebhookEndpointRecord) {
  return {
    object: 'webhook_endpoint' as const,
    id: endpoint.id,
    url: endpoint.url,
    events: endpoint.events,
    description: endpoint.description,
    active: endpoint.active,
    created_at: endpoint.created_at.toISOString(),
  };
}

function deliveryView(delivery: DeliveryRecord) {
  return {
    object: 'webhook_delivery' as const,
    id: delivery.id,
    event_id: delivery.event_id,
    event_type: delivery.event_type,
    status: delivery.status,
    attempts: delivery.attempts,
    next_attempt_at: delivery.status === 'pending' ? delivery.next_attempt_at.toISOString() : null,
    last_status_code: delivery.last_status_code,
    last_error: delivery.last_error,
    last_duration_ms: delivery.last_duration_ms,
    created_at: delivery.created_at.toISOString(),
    delivered_at: delivery.delivered_at?.toISOString() ?? null,
  };
}

/** `/:project_id/v1/management/webhooks`: endpoints for exec events and their delivery log. */
export function webhookRoutes(deps: { readonly pool: Pool; readonly webhooks: WebhookSettings }) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.post<{ Body: Static<typeof CreateBody> }>(
      '/webhooks',
      { schema: { body: CreateBody } },
      async (request, reply) => {
        const project = projectOf(request);
        const url = parseEndpointUrl(request.body.url, deps.webhooks.allowHttp, deps.webhooks.allow);
        const secret = `whsec_${randomBytes(32).toString('base64url')}`;
        const endpoint = await insertEndpoint(deps.pool, {
          id: newId('wh'),
          project_id: project.id,
          url,
          events: request.body.events,
          description: request.body.description ?? null,
          secret_sealed: seal(deps.webhooks.secretKey, secret),
        });
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'webhook.created',
          subject: endpoint.id,
          detail: { url, events: endpoint.events },
        });
        return reply.status(201).send({ ...endpointView(endpoint), secret });
      },
    );

    app.get<{ Querystring: Page }>('/webhooks', { schema: { querystring: PageQuery } }, async (request) =>
      pagedList(request.query, (page) => listEndpoints(deps.pool, projectOf(request).id, page), endpointView),
    );

    app.get<{ Params: EndpointParams }>('/webhooks/:id', { schema: { params: EndpointParams } }, async (request) => {
      const endpoint = await findEndpoint(deps.pool, projectOf(request).id, request.params.id);
      if (!endpoint) throw new ApiError('webhook_not_found', undefined, 'id');
      return endpointView(endpoint);
    });

    app.get<{ Params: EndpointParams }>(
      '/webhooks/:id/deliveries',
      { schema: { params: EndpointParams } },
      async (request) => {
        const endpoint = await findEndpoint(deps.pool, projectOf(request).id, request.params.id);
        if (!endpoint) throw new ApiError('webhook_not_found', undefined, 'id');
        return {
          object: 'list',
          data: (await listDeliveries(deps.pool, endpoint.id, 100)).map(deliveryView),
          has_more: false,
        };
      },
    );

    app.delete<{ Params: EndpointParams }>('/webhooks/:id', { schema: { params: EndpointParams } }, async (request) => {
      const project = projectOf(request);
      if (!(await deleteEndpoint(deps.pool, project.id, request.params.id)))
        throw new ApiError('webhook_not_found', undefined, 'id');
      await appendAudit(deps.pool, {
        projectId: project.id,
        ...actorOf(request.principal),
        event: 'webhook.deleted',
        subject: request.params.id,
      });
      return { object: 'webhook_endpoint', id: request.params.id, deleted: true };
    });
  };
}

/** https only (http when the router allows it for development); no credentials in the URL. */
function parseEndpointUrl(raw: string, allowHttp: boolean, allow: TargetAllowlist): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ApiError('invalid_body', 'url is not a valid URL', 'url');
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:'))
    throw new ApiError('invalid_body', 'url must use https://', 'url');
  if (url.username || url.password)
    throw new ApiError('invalid_body', 'url must not carry credentials; verify the signature instead', 'url');
  // Literal addresses and localhost are judged now; names are judged after resolution at every delivery.
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host) ? host : /^(?:localhost|.*\.localhost)$/i.test(host) ? '127.0.0.1' : undefined;
  if (literal !== undefined) {
    const decision = decideTarget(host, [{ address: literal, family: isIP(literal) }], allow);
    if (!decision.ok) throw new ApiError('webhook_target_refused', `url ${decision.reason}`, 'url');
  }
  return url.toString();
}
