import type { FastifyInstance } from 'fastify';
import { approvalRoutes } from './approvals.js';
import { authenticateApiKey, requireProjectAccess, requireScope } from './auth.js';
import { execRoutes, type ExecRouteDependencies } from './exec.js';

/**
 * `/:project_id/v1/exec/*`: every route behind an API key of the path's project with the
 * `execution` scope, checked in the same order as management (key, project, scope).
 */
export function execSurface(deps: ExecRouteDependencies) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticateApiKey({ db: deps.pool }));
    app.addHook('preHandler', requireProjectAccess({ db: deps.pool }));
    app.addHook('preHandler', requireScope('execution'));
    await app.register(execRoutes(deps));
    await app.register(approvalRoutes(deps));
  };
}
