#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { addConfigOptions, configArgsFromOptions } from '../runtime/config/argv.js';
import { loadConfig, type Env } from '../runtime/config/load.js';
import { pickConfigSchema, type ConfigOf } from '../runtime/config/spec.js';
import { createLifecycle, handleShutdownSignals } from '../runtime/lifecycle.js';
import { childLogger, createLogger } from '../runtime/logger.js';
import { createMetricsRegistry, startMetricsServer } from '../runtime/metrics.js';
import { logCrashes, reportToParent, runMain } from '../runtime/process.js';
import { telemetryConfigSchema } from '../runtime/telemetry-config.js';
import { startTracing } from '../runtime/tracing.js';
import { curvePublicFromSecret } from '../protocol/curve-keys.js';
import type { Logger } from '../runtime/logger.js';
import { buildApp } from './app.js';
import { startMesh } from './mesh/mesh.js';
import { execFrameHandlers } from './exec/agent-frames.js';
import { startExecRuntime } from './exec/exec-runtime.js';
import { AttemptOwners } from './exec/attempt-owners.js';
import { FrameRefusals } from './exec/frame-refusals.js';
import { registerTrustMetrics } from './exec/trust-metrics.js';
import { WorkspaceCatalogs } from './exec/workspace-catalog.js';
import { findAttemptOwner } from './store/exec-results.js';
import { createInferenceRuntime, inferenceHandlers } from './inference/runtime.js';
import { atRestKey } from './auth/sealed.js';
import { startWebhookWorker } from './webhooks/worker.js';
import { parseAllowlist } from './webhooks/target-policy.js';
import { createMemoryLimiter } from './limits/memory-limiter.js';
import { createRedisLimiter } from './limits/redis-limiter.js';
import { registerMeshMetrics } from './mesh/metrics.js';
import { createAgentTokens } from './auth/agent-tokens.js';
import type { EnrollmentSettings } from './enrollment/enroll.js';
import { routerConfigSchema, type RouterConfig } from './config.js';
import { ensureBootstrap, parseBootstrapJoinKeys } from './store/bootstrap.js';
import { migrate } from './store/migrate.js';
import { createTransactionBatcher } from './store/batcher.js';
import { createPool, type Pool } from './store/pool.js';
import { auditPrivileges } from './store/app-role.js';
import { auditSigner, publicKeyHex } from './audit/checkpoint.js';
import { fileSink, logSink, startCheckpointer, webhookSink } from './audit/checkpointer.js';

const migrateSchema = pickConfigSchema(routerConfigSchema, ['database_url', 'log_level', 'database_app_role', 'database_app_password']);

async function serve(config: RouterConfig, env: Env): Promise<void> {
  const logger = createLogger({ service: 'router', level: config.log_level, secrets: secretsOf(config) });
  logCrashes(logger);
  const graceMs = config.shutdown_grace_seconds * 1_000;
  const lifecycle = createLifecycle({ logger, graceMs });
  handleShutdownSignals({ lifecycle, logger, graceMs });

  const tracing = startTracing(loadConfig(telemetryConfigSchema, { env }), 'xerotier-router');
  lifecycle.defer('tracing', () => tracing.shutdown());
  const pool = createPool({ connectionString: config.database_url, max: config.database_pool_max, logger });
  lifecycle.defer('database pool', () => pool.end());
  if (config.bootstrap_project !== undefined) {
    const { project } = await ensureBootstrap(pool, {
      projectSlug: config.bootstrap_project,
      ...(config.bootstrap_admin_key_sha256 ? { adminKeySha256: config.bootstrap_admin_key_sha256 } : {}),
      joinKeys: parseBootstrapJoinKeys(config.bootstrap_join_keys),
    });
    logger.info({ project_id: project.id, slug: project.slug }, 'bootstrap project ready');
  }

  // Agents' reports and new invocations commit in groups: one fsync and one audit-lock hold for many.
  const transact = createTransactionBatcher(pool, logger);
  const lost: { agent?: (agentId: string) => void } = {};
  const owners = new AttemptOwners((id) => findAttemptOwner(pool, id));
  const registry = createMetricsRegistry('router');
  const trust = registerTrustMetrics(registry);
  const refusals = new FrameRefusals({ db: pool, logger: childLogger(logger, { component: 'mesh' }), count: (type, reason) => trust.refused(type, reason) });
  const catalogs = new WorkspaceCatalogs(pool, { logger: childLogger(logger, { component: 'exec' }), onConflict: () => trust.conflict() });
  const mesh = await startMesh({
    onAgentLost: (agentId) => lost.agent?.(agentId),
    pool, databaseUrl: config.database_url, logger: childLogger(logger, { component: 'mesh' }), bind: config.mesh_bind, curveSecretKey: config.curve_secret_key,
    leaseRenewalIntervalMs: config.lease_renewal_interval_ms, heartbeatTimeoutMs: config.heartbeat_timeout_ms,
    handlers: { ...execFrameHandlers({ pool, logger: childLogger(logger, { component: 'exec' }), transact, owners, refusals }), ...inferenceHandlers(() => inference) },
  });
  const inference = createInferenceRuntime(pool, { boundAgents: () => mesh.boundAgents(), leaseOf: (id) => mesh.leaseOf(id), send: (id, frame) => mesh.server.send(id, frame) }, { registry, refusals });
  lost.agent = (agentId) => inference.agentLost(agentId);
  lifecycle.defer('mesh', () => mesh.close());
  const limiter = config.cache_backend === 'redis' ? createRedisLimiter(config.redis_url!, logger) : createMemoryLimiter();
  lifecycle.defer('rate limiter', () => limiter.close());
  const rateLimits = {
    limiter, apiKeyRpm: config.api_rate_limit_rpm,
    exec: { global: config.exec_rate_limit_global_rpm, project: config.exec_rate_limit_project_rpm, workspace: config.exec_rate_limit_workspace_rpm, agent: config.exec_rate_limit_agent_rpm },
  };
  const exec = startExecRuntime({
    pool, databaseUrl: config.database_url, logger: childLogger(logger, { component: 'exec' }), agentLimit: { limiter, perMinute: rateLimits.exec.agent }, owners,
    mesh: { boundAgents: () => mesh.boundAgents(), capacityOf: (id) => mesh.capacityOf(id), send: (id, frame) => mesh.server.send(id, frame) },
  });
  lifecycle.defer('exec runtime', () => exec.close());
  const webhooks = { secretKey: atRestKey(config.completion_encryption_key), allowHttp: config.webhooks_allow_http, allow: parseAllowlist(config.webhooks_allowed_targets) };
  const webhookWorker = startWebhookWorker({ pool, logger: childLogger(logger, { component: 'webhooks' }), secretKey: webhooks.secretKey, allow: webhooks.allow });
  lifecycle.defer('webhook worker', () => webhookWorker.close());
  const auditKey = auditSigner(config.audit_signing_key);
  await warnIfAuditRewritable(pool, logger);
  const checkpointer = startCheckpointer({
    db: pool, signer: auditKey, logger: childLogger(logger, { component: 'audit' }), intervalMs: config.audit_checkpoint_interval_seconds * 1_000,
    sinks: [logSink(childLogger(logger, { component: 'audit' })), webhookSink(pool), ...(config.audit_checkpoint_dir ? [fileSink(config.audit_checkpoint_dir)] : [])],
  });
  lifecycle.defer('audit checkpointer', () => checkpointer.close());
  registerMeshMetrics(registry, mesh);
  const metrics = await startMetricsServer(registry, { port: config.metrics_port, host: config.metrics_host });
  lifecycle.defer('metrics server', () => metrics.close());
  const app = buildApp({
    logger, pool, enrollment: await enrollmentSettings(config, mesh.server.endpoint, logger), mesh, ...tlsOf(config), auditKeyHex: publicKeyHex(auditKey), exec: { hub: exec.hub, wake: () => exec.dispatcher.wake(), transact, catalogs }, rateLimits, webhooks, inference,
  });
  lifecycle.defer('http server', () => app.close());
  const address = await app.listen({ host: config.http_host, port: config.http_port });
  logger.info({ url: address, metrics: metrics.url, tracing: tracing.enabled }, 'router listening');
  reportToParent({ type: 'listening', http_url: address, metrics_url: metrics.url, mesh_endpoint: mesh.server.endpoint }, () => {
    void lifecycle.close('parent process went away').finally(() => process.exit(0));
  });
}

/** The router must not be able to rewrite history: say so loudly when it connects as a role that could. */
async function warnIfAuditRewritable(pool: Pool, logger: Logger): Promise<void> {
  const privileges = await auditPrivileges(pool);
  if (privileges.owner || privileges.superuser || privileges.canRewrite) {
    logger.warning({ ...privileges }, 'the router\'s database role could rewrite the audit log: connect as the app role that `migrate` creates (XEROTIER_DATABASE_APP_ROLE)');
  }
}

async function runMigrations(config: ConfigOf<typeof migrateSchema.keys>): Promise<void> {
  const logger = createLogger({ service: 'router', level: config.log_level, secrets: [config.database_url, config.database_app_password].filter((value): value is string => value !== undefined) });
  const appRole = { name: config.database_app_role, ...(config.database_app_password === undefined ? {} : { password: config.database_app_password }) };
  await migrate({ databaseUrl: config.database_url, logger, appRole });
}

/** What enrolling agents are told; the bound endpoint (a `*` port resolved) unless a public one is set. */
async function enrollmentSettings(config: RouterConfig, boundEndpoint: string, logger: Logger): Promise<EnrollmentSettings> {
  const meshEndpoint = config.mesh_public_endpoint ?? boundEndpoint;
  if (new URL(meshEndpoint).hostname === '0.0.0.0') {
    logger.warning({ mesh_endpoint: meshEndpoint }, 'agents are told to dial 0.0.0.0: set XEROTIER_MESH_PUBLIC_ENDPOINT to an address they can reach');
  }
  return {
    tokens: createAgentTokens(config.token_signing_key, config.agent_token_ttl_seconds),
    routerCurvePublicKey: curvePublicFromSecret(config.curve_secret_key),
    meshEndpoint,
    leaseRenewalIntervalMs: config.lease_renewal_interval_ms,
  };
}

function tlsOf(config: RouterConfig): { tls?: { cert: Buffer; key: Buffer } } {
  if (config.tls_cert_path === undefined || config.tls_key_path === undefined) return {};
  return { tls: { cert: readFileSync(config.tls_cert_path), key: readFileSync(config.tls_key_path) } };
}

function secretsOf(config: RouterConfig): string[] {
  return [config.database_url, config.redis_url, config.completion_encryption_key, config.token_signing_key, config.curve_secret_key, config.audit_signing_key, config.database_app_password].filter((value): value is string => value !== undefined);
}

function program(env: Env): Command {
  const root = new Command('xerotier-router').description('Xerotier router: HTTPS APIs, mesh, scheduler, approvals, audit');
  addConfigOptions(root.command('serve', { isDefault: true }).description('run the router'), routerConfigSchema).action(
    async (options: Record<string, unknown>) => serve(loadConfig(routerConfigSchema, { env, ...configArgsFromOptions(routerConfigSchema, options) }), env),
  );
  addConfigOptions(root.command('migrate').description('apply pending database migrations and exit'), migrateSchema).action(
    async (options: Record<string, unknown>) => {
      const config = loadConfig(migrateSchema, { env, ...configArgsFromOptions(migrateSchema, options) });
      await runMigrations(config);
    },
  );
  return root;
}

runMain(async () => {
  await program(process.env).parseAsync(process.argv);
});
