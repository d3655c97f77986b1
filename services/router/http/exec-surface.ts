import type { FastifyInstance } from 'fastify';
import { approvalRoutes } from './approvals.js';
import { authenticateApiKey, requirePermission, requireProjectAccess } from './auth.js';
import { execRoutes, type ExecRouteDependencies } from './exec.js';
import { admitInvocations, limitApiKeys, type RateLimitSettings } from './rate-limits.js';

/**
 * `/:project_id/v1/exec/*`: every route behind an API key of the path's project with the
 * `execution` scope, checked in the same order as management (key, project, scope).
 */
export function execSurface(deps: ExecRouteDependencies & { readonly rateLimits?: RateLimitSettings }) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticateApiKey({ db: deps.pool }));
    app.addHook('preHandler', requireProjectAccess({ db: deps.pool }));
    app.addHook('preHandler', requirePermission('exec.read', 'exec.invoke'));
    if (deps.rateLimits) app.addHook('preHandler', limitApiKeys(deps.rateLimits));
    await app.register(
      execRoutes({ ...deps, ...(deps.rateLimits ? { admitInvocation: admitInvocations(deps.rateLimits) } : {}) }),
    );
    await app.register(approvalRoutes(deps));
  };
}
