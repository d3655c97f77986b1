import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../runtime/logger.js';
import type { EnrollmentSettings } from './enrollment/enroll.js';
import type { FailureThrottle } from './enrollment/failure-throttle.js';
import { enrollmentRoutes, type MeshHooks } from './http/enrollment.js';
import { frameworkErrorHandler, registerErrorHandling } from './http/error-handler.js';
import { ApiError } from './http/errors.js';
import { fastifyLogger } from './http/fastify-logger.js';
import { healthRoutes } from './http/health.js';
import { packageVersion } from '../runtime/package-version.js';
import { managementRoutes } from './http/management.js';
import { accountRoutes, signInRoutes } from './http/people/sessions.js';
import { oidcRoutes } from './http/people/oidc.js';
import type { OidcSignIn } from './people/oidc.js';
import { DEFAULT_IDENTITY, type IdentitySettings } from './people/settings.js';
import { execSurface } from './http/exec-surface.js';
import { chatRoutes } from './http/conversations/chats.js';
import { mockupPreviewRoutes } from './http/mockup-preview.js';
import { knowledgeRoutes } from './http/knowledge.js';
import { templateRoutes } from './http/templates.js';
import { inferenceRoutes } from './http/inference.js';
import { fleetForwardingRoutes } from './http/fleet-forwarding.js';
import type { ReplicaAuth } from './fleet/replica-auth.js';
import { admitCalls, type RateLimitSettings } from './http/rate-limits.js';
import { createInferenceRuntime, NO_MESH, type InferenceRuntime } from './inference/runtime.js';
import type { WebhookSettings } from './http/webhooks.js';
import type { Transactor } from './store/batcher.js';
import { ExecEventHub } from './exec/exec-events.js';
import { ArgumentValidator } from './exec/tool-catalog.js';
import { WorkspaceCatalogs } from './exec/workspace-catalog.js';
import { RouterLogController } from './http/log-controller.js';
import { clientErrorHandler, DEFAULT_TIMEOUTS, serverFactory, type ServerTimeouts } from './http/server-factory.js';
import { requestIdFor } from './http/request-id.js';
import { OpenStreams } from './http/sse.js';
import { traceRequests } from './http/request-tracing.js';
import { wireSafeKeyword } from './http/wire-safe.js';
import { databaseAnswers, type Pool } from './store/pool.js';
import { EndpointCache } from './inference/endpoint-cache.js';
import { LiveResponses } from './loop/live-responses.js';
import { createLoopResumer } from './loop/resumer.js';
import { createLearner, type LearningsExtraction } from './loop/learning.js';
import { extractionRun } from './loop/extraction-run.js';

export interface AppDependencies {
  readonly logger: Logger;
  readonly pool: Pool;
  /** Reported by `/healthz` (default: the package's version). */
  readonly version?: string;
  /** PEM cert and key; the API serves HTTPS when present. */
  readonly tls?: { cert: Buffer; key: Buffer };
  readonly timeouts?: ServerTimeouts;
  readonly enrollment: EnrollmentSettings;
  /** A CURVE key rotation is under way (the mesh serves a next key): agents can be moved to it. */
  readonly curveRotating?: boolean;
  /** The mesh's view of enrollment: admit new agents, drop revoked ones at once. */
  readonly mesh?: MeshHooks;
  /** This router's execution runtime: events for SSE, and a nudge when queued work may move. */
  readonly exec?: {
    readonly hub: ExecEventHub;
    wake(): void;
    readonly transact?: Transactor;
    readonly catalogs?: WorkspaceCatalogs;
  };
  /** This router's inference serving; without it every inference request is refused (no agents). */
  readonly inference?: InferenceRuntime;
  /** Other replicas hand this one inference for the agents it holds, signed with this. */
  readonly fleet?: { readonly auth: ReplicaAuth; readonly counted?: () => void };
  /** Webhook endpoints (sealing key, http allowed); the routes exist only when set. */
  readonly webhooks?: WebhookSettings;
  /** Per-key and per-layer limits; none when unset (tests that do not test them). */
  readonly rateLimits?: RateLimitSettings;
  /** Limits refused enrollments per address. @default 20 a minute */
  readonly enrollmentThrottle?: FailureThrottle;
  /** Sign-in and session rules; the defaults when unset. */
  readonly identity?: IdentitySettings;
  /** Single sign-on through an OpenID Connect provider; password sign-in only when unset. */
  readonly oidc?: OidcSignIn;
  /** The public key audit checkpoints are signed with (hex); unset, no checkpoint verifies. */
  readonly auditKeyHex?: string;
  /** The project (slug or id) whose admins may mint platform-scope XIM join keys. */
  readonly platformProject?: string;
  /** How finished chat turns teach their workspace. @default 'rule' */
  readonly learnings?: LearningsExtraction;
}

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** Builds the router's HTTP app without starting it: main.ts listens, tests inject. */
export function buildApp(deps: AppDependencies): FastifyInstance {
  const app = Fastify({
    loggerInstance: fastifyLogger(deps.logger),
    bodyLimit: BODY_LIMIT_BYTES,
    serverFactory: serverFactory(deps.timeouts ?? DEFAULT_TIMEOUTS, deps.tls),
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
    // Our own 503 below, so draining answers carry the documented envelope.
    return503OnClosing: false,
    genReqId: requestIdFor,
    logController: new RouterLogController(),
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false },
      plugins: [wireSafeKeyword],
    },
  });
  let draining = false;
  traceRequests(app);
  app.decorate('sseStreams', new OpenStreams());
  const inference = deps.inference ?? createInferenceRuntime(deps.pool, NO_MESH);
  const exec = execDeps(deps);
  // The model's calls count against the same invocation limits as the exec API's.
  const loopExec = deps.rateLimits ? { ...exec, admit: admitCalls(deps.rateLimits) } : exec;
  const loop = loopRuntime(deps, inference, loopExec);
  app.addHook('onReady', async () => loop.resumer.start());
  app.addHook('preClose', async () => {
    draining = true;
    // Turns resumed in the background stop first and are parked again for another router.
    const resumed = loop.resumer.close();
    // Inference streams end with their own protocol's failure event; every other stream with `shutdown`.
    inference.broker.shutdown('the router is shutting down');
    app.sseStreams.endAll();
    await resumed;
    await loop.learner.close();
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // Requests still arriving on kept-alive connections while the server drains.
    if (draining) throw new ApiError('shutting_down');
  });
  registerErrorHandling(app);
  void app.register(
    healthRoutes({
      ready: () => databaseAnswers(deps.pool, 2_000),
      version: deps.version ?? packageVersion(import.meta.url),
    }),
  );
  void app.register(
    enrollmentRoutes({
      pool: deps.pool,
      settings: deps.enrollment,
      ...(deps.mesh ? { mesh: deps.mesh } : {}),
      ...(deps.enrollmentThrottle ? { throttle: deps.enrollmentThrottle } : {}),
    }),
  );
  const identity = { pool: deps.pool, identity: deps.identity ?? DEFAULT_IDENTITY };
  void app.register(signInRoutes(identity), { prefix: '/v1/auth' });
  void app.register(oidcRoutes({ oidc: deps.oidc }), { prefix: '/v1/auth' });
  void app.register(accountRoutes(identity), { prefix: '/:project_id/v1/auth' });
  void app.register(
    managementRoutes({
      pool: deps.pool,
      auditKeyHex: deps.auditKeyHex ?? '0'.repeat(64),
      ...(deps.platformProject ? { platformProject: deps.platformProject } : {}),
      ...(deps.mesh ? { onAgentRevoked: (id: string) => deps.mesh!.agentRevoked(id) } : {}),
      ...(deps.curveRotating
        ? {
            curveRotation: {
              publicKey: deps.enrollment.routerCurvePublicKey,
              endpoint: () => deps.enrollment.meshEndpoint(),
            },
          }
        : {}),
      ...(deps.exec ? { onExecResumed: () => deps.exec!.wake() } : {}),
      ...(deps.rateLimits ? { rateLimits: deps.rateLimits } : {}),
      ...(deps.webhooks ? { webhooks: deps.webhooks } : {}),
    }),
    {
      prefix: '/:project_id/v1/management',
    },
  );
  const rateLimited = deps.rateLimits ? { rateLimits: deps.rateLimits } : {};
  void app.register(knowledgeRoutes({ pool: deps.pool, ...rateLimited }), { prefix: '/:project_id/v1/knowledge' });
  void app.register(templateRoutes({ pool: deps.pool, ...rateLimited }), { prefix: '/:project_id/v1/templates' });
  void app.register(mockupPreviewRoutes({ pool: deps.pool }), { prefix: '/mockup-preview' });
  void app.register(chatRoutes({ pool: deps.pool, ...(deps.rateLimits ? { rateLimits: deps.rateLimits } : {}) }), {
    prefix: '/:project_id/v1/chats',
  });
  void app.register(
    inferenceRoutes({
      pool: deps.pool,
      logger: deps.logger,
      inference,
      exec: loopExec,
      live: loop.live,
      learner: loop.learner,
      ...(deps.rateLimits ? { rateLimits: deps.rateLimits } : {}),
    }),
    { prefix: '/:project_id/:endpoint_slug/v1' },
  );
  if (deps.fleet)
    void app.register(
      fleetForwardingRoutes({ ...deps.fleet, broker: inference.broker, bodyLimit: 2 * BODY_LIMIT_BYTES }),
    );
  void app.register(
    execSurface({
      ...exec,
      ...(deps.rateLimits ? { rateLimits: deps.rateLimits } : {}),
    }),
    { prefix: '/:project_id/v1/exec' },
  );
  return app;
}

/** One validator, catalog cache and event hub for the exec API and the agentic loop. */
function execDeps(deps: AppDependencies) {
  return {
    pool: deps.pool,
    hub: deps.exec?.hub ?? new ExecEventHub(),
    validator: new ArgumentValidator(),
    catalogs: deps.exec?.catalogs ?? new WorkspaceCatalogs(deps.pool),
    ...(deps.exec?.transact ? { transact: deps.exec.transact } : {}),
    ...(deps.exec ? { wake: () => deps.exec!.wake() } : {}),
  };
}

/**
 * The responses running here (for stream replay), the resumer of turns parked on approvals, and
 * the learner both kinds of turn end with.
 */
function loopRuntime(deps: AppDependencies, inference: InferenceRuntime, exec: ReturnType<typeof execDeps>) {
  const live = new LiveResponses();
  const serving = {
    pool: deps.pool,
    logger: deps.logger,
    dispatch: inference.dispatch,
    broker: inference.broker,
    endpoints: new EndpointCache(deps.pool),
    ...(inference.metrics ? { metrics: inference.metrics } : {}),
  };
  const learner = createLearner({
    pool: deps.pool,
    extraction: deps.learnings ?? 'rule',
    run: extractionRun(serving),
    warn: (error, responseId) =>
      deps.logger.warning({ err: error, response_id: responseId }, 'could not extract learnings from a turn'),
  });
  const resumer = createLoopResumer({ ...serving, exec, live, learner, hub: exec.hub });
  return { live, resumer, learner };
}
