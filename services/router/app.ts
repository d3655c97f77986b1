import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../runtime/logger.js';
import { registerErrorHandling } from './http/error-handler.js';
import { fastifyLogger } from './http/fastify-logger.js';
import { healthRoutes } from './http/health.js';
import { RouterLogController } from './http/log-controller.js';
import { requestIdFor } from './http/request-id.js';
import { databaseAnswers, type Pool } from './store/pool.js';

export interface AppDependencies {
  readonly logger: Logger;
  readonly pool: Pool;
  /** PEM cert and key; the API serves HTTPS when present. */
  readonly tls?: { cert: Buffer; key: Buffer };
}

export const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Builds the router's HTTP app without starting it: main.ts listens, tests inject. Timeouts are
 * set explicitly because fastify 5 disables Node's request timeout by default, leaving
 * slow-body clients connected forever.
 */
export function buildApp(deps: AppDependencies): FastifyInstance {
  const app = Fastify({
    loggerInstance: fastifyLogger(deps.logger),
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: 30_000,
    connectionTimeout: 0,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    genReqId: requestIdFor,
    logController: new RouterLogController(),
    ...(deps.tls ? { https: { cert: deps.tls.cert, key: deps.tls.key } } : {}),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  app.server.headersTimeout = 10_000;
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  registerErrorHandling(app);
  void app.register(healthRoutes({ ready: () => databaseAnswers(deps.pool, 2_000) }));
  return app;
}
