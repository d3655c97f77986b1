import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { curvePublicFromSecret } from '../protocol/curve-keys.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { createLifecycle } from '../runtime/lifecycle.js';
import { childLogger, type Logger } from '../runtime/logger.js';
import { createMetricsRegistry, startMetricsServer } from '../runtime/metrics.js';
import { buildApp } from './app.js';
import { auditSigner, publicKeyHex } from './audit/checkpoint.js';
import { createCheckpointer, fileSink, logSink, webhookSink, type Checkpointer } from './audit/checkpointer.js';
import { createAgentTokens } from './auth/agent-tokens.js';
import { atRestKey } from '../runtime/sealed.js';
import { execFrameHandlers, type ExecFrameEvents } from './exec/agent-frames.js';
import { AttemptOwners } from './exec/attempt-owners.js';
import { createExecRuntime, type ExecRuntime } from './exec/exec-runtime.js';
import { FrameRefusals } from './exec/frame-refusals.js';
import { registerTrustMetrics } from './exec/trust-metrics.js';
import { WorkspaceCatalogs } from './exec/workspace-catalog.js';
import { createInferenceRuntime, type InferenceRuntime } from './inference/runtime.js';
import { createForwarder } from './fleet/forward-client.js';
import { createReplica } from './fleet/replica.js';
import { createReplicaAuth } from './fleet/replica-auth.js';
import { createRoutingNotes } from './fleet/routing-notes.js';
import { registerFleetMetrics } from './fleet/metrics.js';
import { createMemoryLimiter } from './limits/memory-limiter.js';
import { createRedisLimiter } from './limits/redis-limiter.js';
import { createMesh, type Mesh } from './mesh/mesh.js';
import { registerMeshMetrics } from './mesh/metrics.js';
import type { RouterSettings } from './settings.js';
import { auditPrivileges } from './store/app-role.js';
import { createTransactionBatcher } from './store/batcher.js';
import { ensureBootstrap } from './store/bootstrap.js';
import { createOidcSignIn } from './people/oidc.js';
import { findAttemptOwner } from './store/exec-results.js';
import { createPool, type Pool } from './store/pool.js';
import type { PostOptions } from './webhooks/post.js';
import { parseAllowlist } from './webhooks/target-policy.js';
import { createWebhookWorker } from './webhooks/worker.js';

export interface RouterDependencies {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Where metrics register; a fresh `router` registry when unset. */
  readonly registry?: Registry;
  /** Observers of agents' exec reports (tests). */
  readonly execEvents?: ExecFrameEvents;
  /** Name resolution for webhook deliveries (tests point names at chosen addresses). */
  readonly resolveHost?: PostOptions['resolve'];
}

export interface RouterAddresses {
  readonly httpUrl: string;
  readonly metricsUrl: string;
  readonly meshEndpoint: string;
}

export interface Router {
  readonly app: FastifyInstance;
  readonly pool: Pool;
  readonly mesh: Mesh;
  readonly exec: ExecRuntime;
  readonly inference: InferenceRuntime;
  readonly checkpointer: Checkpointer;
  readonly registry: Registry;
  /** Connects, binds and listens; everything started is closed by close(), also after a failed start. */
  start(): Promise<RouterAddresses>;
  /** Stops in order: HTTP (ending open streams), metrics, audit, webhooks, exec, mesh, limiter, pool. */
  close(): Promise<void>;
}

/**
 * The router's one composition root: main.ts and every test harness build the router here, so
 * tests run the production wiring. Building does no I/O and starts nothing; start() does. The
 * mesh, the inference runtime and the exec runtime refer to each other through closures over
 * the consts below — safe because nothing they wire can run before start(), when all exist.
 */
export function createRouter(settings: RouterSettings, deps: RouterDependencies): Router {
  const { logger } = deps;
  const clock = deps.clock ?? systemClock;
  const registry = deps.registry ?? createMetricsRegistry('router');
  const log = (component: string) => childLogger(logger, { component });
  const pool = createPool({ connectionString: settings.databaseUrl, max: settings.databasePoolMax, logger });
  // Agents' reports and new invocations commit in groups: one fsync and one audit-lock hold for many.
  const transact = createTransactionBatcher(pool, logger);
  const owners = new AttemptOwners((id) => findAttemptOwner(pool, id));
  const trust = registerTrustMetrics(registry);
  const refusals = new FrameRefusals({
    db: pool,
    logger: log('mesh'),
    count: (type, reason) => trust.refused(type, reason),
    now: () => clock.now(),
  });
  const catalogs = new WorkspaceCatalogs(pool, { logger: log('exec'), onConflict: () => trust.conflict() });
  // One replica of many: agents other replicas hold serve here too (docs/fleet.md).
  const replica = createReplica(settings.internalUrl);
  const replicaAuth = createReplicaAuth(settings.agentTokens.signingKey, settings.agentTokens.previousSigningKey);
  const fleetMetrics = registerFleetMetrics(registry);
  const forwarder = createForwarder(
    replicaAuth,
    () => clock.now(),
    () => fleetMetrics.forwarded('out'),
  );
  const notes = createRoutingNotes({
    db: pool,
    databaseUrl: settings.databaseUrl,
    logger: log('fleet'),
    replicaId: replica.id,
    learn: (placement) => inference.dispatch.learn(placement.agentId, placement.hashes, placement.promptCacheKey),
    count: (direction, count) => fleetMetrics.placements(direction, count),
  });
  const mesh = createMesh({
    replica,
    pool,
    databaseUrl: settings.databaseUrl,
    logger: log('mesh'),
    clock,
    bind: settings.mesh.bind,
    curveSecretKey: settings.mesh.curveSecretKey,
    leaseRenewalIntervalMs: settings.mesh.leaseRenewalIntervalMs,
    heartbeatTimeoutMs: settings.mesh.heartbeatTimeoutMs,
    refreshIntervalMs: settings.mesh.refreshIntervalMs,
    scrambleAutoIds: settings.mesh.scrambleAutoIds,
    ...(settings.mesh.next ? { next: settings.mesh.next } : {}),
    ...(settings.mesh.handshakeBudget ? { handshakeBudget: settings.mesh.handshakeBudget } : {}),
    onAgentLost: (agentId) => inference.agentLost(agentId),
    handlers: {
      ...execFrameHandlers({
        pool,
        logger: log('exec'),
        transact,
        owners,
        refusals,
        ...(deps.execEvents ? { events: deps.execEvents } : {}),
      }),
      'infer.chunk': (agent, frame) => inference.broker.deliver(agent, frame),
      'infer.done': (agent, frame) => inference.broker.deliver(agent, frame),
      'infer.error': (agent, frame) => inference.broker.deliver(agent, frame),
    },
  });
  const inference = createInferenceRuntime(pool, mesh, {
    registry,
    refusals,
    fleet: {
      replicaId: replica.id,
      url: () => replica.url(),
      heartbeatTimeoutMs: settings.mesh.heartbeatTimeoutMs,
      forward: (url, inference, report) => forwarder.open(url, inference, report),
      gossip: notes,
    },
  });
  const limiter =
    settings.limits.backend === 'redis' ? createRedisLimiter(settings.limits.redisUrl!, logger) : createMemoryLimiter();
  const rateLimits = { limiter, apiKeyRpm: settings.limits.apiKeyRpm, exec: settings.limits.exec };
  const exec = createExecRuntime({
    pool,
    databaseUrl: settings.databaseUrl,
    logger: log('exec'),
    clock,
    owners,
    mesh,
    agentLimit: { limiter, perMinute: settings.limits.exec.agent },
    ...settings.exec,
  });
  const webhooks = {
    secretKey: atRestKey(settings.encryptionKey),
    allowHttp: settings.webhooks.allowHttp,
    allow: parseAllowlist(settings.webhooks.allowedTargets),
  };
  const webhookWorker = createWebhookWorker({
    pool,
    logger: log('webhooks'),
    clock,
    secretKey: webhooks.secretKey,
    allow: webhooks.allow,
    intervalMs: settings.webhooks.intervalMs,
    ...(deps.resolveHost ? { resolve: deps.resolveHost } : {}),
  });
  const auditKey = auditSigner(settings.audit.signingKey);
  const checkpointer = createCheckpointer({
    db: pool,
    signer: auditKey,
    logger: log('audit'),
    clock,
    intervalMs: settings.audit.checkpointIntervalMs,
    sinks: [
      logSink(log('audit')),
      webhookSink(pool),
      ...(settings.audit.checkpointDir ? [fileSink(settings.audit.checkpointDir)] : []),
    ],
  });
  registerMeshMetrics(registry, mesh);
  const app = buildApp({
    logger,
    pool,
    mesh,
    rateLimits,
    webhooks,
    inference,
    fleet: { auth: replicaAuth, counted: () => fleetMetrics.forwarded('in') },
    curveRotating: settings.mesh.next !== undefined,
    tls: settings.http.tls,
    auditKeyHex: publicKeyHex(auditKey),
    ...(settings.platformProject ? { platformProject: settings.platformProject } : {}),
    learnings: settings.learnings,
    identity: settings.identity,
    ...(settings.oidc ? { oidc: createOidcSignIn({ pool, settings: settings.oidc, logger }) } : {}),
    enrollment: {
      tokens: createAgentTokens(
        settings.agentTokens.signingKey,
        settings.agentTokens.ttlSeconds,
        settings.agentTokens.previousSigningKey,
      ),
      // During a rotation, agents that enroll or refresh are sent to the next key straight away.
      routerCurvePublicKey: curvePublicFromSecret(settings.mesh.next?.curveSecretKey ?? settings.mesh.curveSecretKey),
      meshEndpoint: () =>
        settings.mesh.next
          ? (settings.mesh.next.publicEndpoint ?? mesh.nextServer!.endpoint)
          : (settings.mesh.publicEndpoint ?? mesh.server.endpoint),
      leaseRenewalIntervalMs: settings.mesh.leaseRenewalIntervalMs,
    },
    exec: { hub: exec.hub, wake: () => exec.dispatcher.wake(), transact, catalogs },
  });
  const running = createLifecycle({ logger, graceMs: settings.shutdownGraceMs });
  return {
    app,
    pool,
    mesh,
    exec,
    inference,
    checkpointer,
    registry,
    async start() {
      running.defer('database pool', () => pool.end());
      running.defer('rate limiter', () => limiter.close());
      await prepareDatabase(settings, pool, logger);
      await mesh.start();
      running.defer('mesh', () => mesh.close());
      notes.start();
      running.defer('routing notes', () => notes.close());
      exec.start();
      running.defer('exec runtime', () => exec.close());
      webhookWorker.start();
      running.defer('webhook worker', () => webhookWorker.close());
      checkpointer.start();
      running.defer('audit checkpointer', () => checkpointer.close());
      const metrics = await startMetricsServer(registry, { port: settings.metrics.port, host: settings.metrics.host });
      running.defer('metrics server', () => metrics.close());
      const listened = await app.listen({ host: settings.http.host, port: settings.http.port });
      running.defer('http server', () => app.close());
      replica.listening(announced(listened, settings));
      return {
        httpUrl: announced(listened, settings),
        metricsUrl: metrics.url,
        meshEndpoint: settings.mesh.publicEndpoint ?? mesh.server.endpoint,
      };
    },
    close: () => running.close('router closing'),
  };
}

/** The bootstrap project, and a loud warning when the router's role could rewrite the audit log. */
async function prepareDatabase(settings: RouterSettings, pool: Pool, logger: Logger): Promise<void> {
  if (settings.bootstrap) {
    const { project } = await ensureBootstrap(pool, {
      projectSlug: settings.bootstrap.projectSlug,
      joinKeys: settings.bootstrap.joinKeys,
      adminEmail: settings.bootstrap.adminEmail,
      ...(settings.bootstrap.adminKeySha256 ? { adminKeySha256: settings.bootstrap.adminKeySha256 } : {}),
    });
    logger.info({ project_id: project.id, slug: project.slug }, 'bootstrap project ready');
  }
  const privileges = await auditPrivileges(pool);
  if (privileges.owner || privileges.superuser || privileges.canRewrite) {
    logger.warning(
      { ...privileges },
      "the router's database role could rewrite the audit log: connect as the app role that `migrate` creates (XEROTIER_DATABASE_APP_ROLE)",
    );
  }
  if (settings.internalUrl === undefined && ['0.0.0.0', '::', '[::]'].includes(settings.http.host)) {
    logger.warning(
      { http_host: settings.http.host },
      'other router replicas are told to forward to a wildcard address: set XEROTIER_ROUTER_INTERNAL_URL to one they can reach',
    );
  }
  if (settings.mesh.publicEndpoint === undefined && /^tcp:\/\/(0\.0\.0\.0|\*|\[::\]):/.test(settings.mesh.bind)) {
    logger.warning(
      { mesh_bind: settings.mesh.bind },
      'agents are told to dial 0.0.0.0: set XEROTIER_MESH_PUBLIC_ENDPOINT to an address they can reach',
    );
  }
}

/** The URL the router serves on, as clients reach it: https when it holds a certificate, a wildcard host as loopback. */
export function announced(listened: string, settings: Pick<RouterSettings, 'http'>): string {
  const url = new URL(listened);
  if (settings.http.tls) url.protocol = 'https:';
  return url.toString().replace(/\/$/, '');
}
