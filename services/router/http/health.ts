import type { FastifyInstance } from 'fastify';
import { errorEnvelope } from './errors.js';

export interface HealthDependencies {
  /** True when every dependency the router needs to serve requests answers. */
  readonly ready: () => Promise<boolean>;
  /** The router's release, for `xeroctl status` and people comparing replicas. */
  readonly version: string;
}

/** Liveness (`/healthz`: the process serves HTTP) and readiness (`/readyz`: the database answers). */
export function healthRoutes(deps: HealthDependencies) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.get('/healthz', async () => ({ status: 'ok', version: deps.version }));
    app.get('/readyz', async (_request, reply) => {
      if (await deps.ready()) return { status: 'ready' };
      return reply.status(503).send(errorEnvelope('not_ready', 'The database does not answer'));
    });
  };
}
