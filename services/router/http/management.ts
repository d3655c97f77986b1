import type { FastifyInstance } from 'fastify';
import { agentRoutes, type AgentRouteDependencies } from './agents.js';
import { apiKeyRoutes } from './api-keys.js';
import { joinKeyRoutes } from './join-keys.js';
import { auditRoutes } from './audit.js';
import { endpointRoutes } from './endpoints.js';
import { authenticateApiKey, requirePermission, requireProjectAccess } from './auth.js';
import { limitApiKeys, type RateLimitSettings } from './rate-limits.js';
import { webhookRoutes, type WebhookSettings } from './webhooks.js';
import { toolRiskRoutes } from './tool-risks.js';
import { workspaceRoutes } from './workspaces.js';
import { memberRoutes } from './people/members.js';

/**
 * `/:project_id/v1/management/*`: every route behind an API key of the path's project with the
 * `management` scope. Checks run in this order: key (401), project (404/403), scope (403).
 */
export function managementRoutes(
  deps: AgentRouteDependencies & {
    readonly rateLimits?: RateLimitSettings;
    readonly webhooks?: WebhookSettings;
    readonly auditKeyHex: string;
    readonly platformProject?: string;
  },
) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticateApiKey({ db: deps.pool }));
    app.addHook('preHandler', requireProjectAccess({ db: deps.pool }));
    app.addHook('preHandler', requirePermission('manage.read', 'manage.write'));
    if (deps.rateLimits) app.addHook('preHandler', limitApiKeys(deps.rateLimits));
    await app.register(apiKeyRoutes(deps));
    await app.register(memberRoutes(deps));
    await app.register(joinKeyRoutes(deps));
    await app.register(agentRoutes(deps));
    await app.register(workspaceRoutes(deps));
    await app.register(toolRiskRoutes(deps));
    await app.register(auditRoutes(deps));
    await app.register(endpointRoutes(deps));
    if (deps.webhooks) await app.register(webhookRoutes({ pool: deps.pool, webhooks: deps.webhooks }));
  };
}
