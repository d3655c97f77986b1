#!/usr/bin/env node
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { startAgent, type RunningAgent } from '../agent/agent.js';
import { AgentRetired, holdRetired } from '../agent/retired.js';
import { addConfigOptions, configArgsFromOptions } from '../runtime/config/argv.js';
import { describeConfig, loadConfig, type Env } from '../runtime/config/load.js';
import { createLifecycle, handleShutdownSignals } from '../runtime/lifecycle.js';
import { createLogger, type Logger } from '../runtime/logger.js';
import { createMetricsRegistry, startMetricsServer } from '../runtime/metrics.js';
import { logCrashes, reportToParent, runMain } from '../runtime/process.js';
import { loadBundles, offerTool, type LoadedTool } from './bundles/loader.js';
import { buildManifest, ManifestVersions, servedWorkspaces } from './bundles/manifest.js';
import { xemAgentConfigSchema, xemMetricsPortSchema, type XEMAgentConfig } from './config.js';
import { createDelivery } from './execution/delivery.js';
import { createExecutionEngine, plainEnvironment, type ExecutionEngine } from './execution/engine.js';
import { registerExecutionMetrics } from './execution/metrics.js';
import { discoverMcpTools } from './executors/mcp.js';
import { routerCallbackTools } from './executors/router-callback.js';
import { openOutbox } from './outbox.js';

/** Dispatch ids are remembered this long, far past any redelivery. */
const DISPATCH_MEMORY_MS = 7 * 24 * 3_600_000;
/** After the grace for running calls, this long more to get their results acknowledged. */
const FLUSH_MS = 5_000;

export const AGENT_VERSION = '0.1.0';

async function run(config: XEMAgentConfig, env: Env): Promise<void> {
  const early = loadConfig(xemMetricsPortSchema, { env });
  const logger = createLogger({ service: 'xem-agent', level: config.log_level, secrets: [config.join_key, config.router_auth_token] });
  logCrashes(logger);
  logger.info({ config: describeConfig(xemAgentConfigSchema, config) }, 'starting');
  const graceMs = config.shutdown_grace_seconds * 1_000;
  const lifecycle = createLifecycle({ logger, graceMs: graceMs + FLUSH_MS });
  handleShutdownSignals({ lifecycle, logger, graceMs: graceMs + FLUSH_MS });
  const registry = createMetricsRegistry('xem-agent');
  const metrics = await startMetricsServer(registry, { port: early.metrics_port });
  lifecycle.defer('metrics server', () => metrics.close());

  const routerCallback = { routerUrl: config.router_url, token: config.router_auth_token, projectExternalId: config.project_external_id };
  const builtIn = routerCallbackTools(routerCallback);
  let tools = await loadTools(config.tools_dir, builtIn, logger);
  // SIGHUP re-reads the bundles; calls already running keep the tool they started with.
  const reload = () => {
    void loadTools(config.tools_dir, builtIn, logger).then((next) => (tools = next));
  };
  process.on('SIGHUP', reload);
  lifecycle.defer('bundle reload', () => void process.off('SIGHUP', reload));
  const versions = new ManifestVersions();
  const outbox = openOutbox(config.queue_db_path);
  outbox.prune(Date.now() - DISPATCH_MEMORY_MS);
  lifecycle.defer('outbox', () => outbox.close());
  const link: { agent?: RunningAgent; engine?: ExecutionEngine } = {};
  const executionMetrics = registerExecutionMetrics(registry, { engine: () => link.engine, outbox });
  const delivery = createDelivery({
    outbox, logger, bound: () => link.agent?.mesh.bound ?? false,
    send: (type, body, frameId) => void link.agent?.mesh.send(type, body as never, { id: frameId }),
  });
  const engine = createExecutionEngine({
    outbox, logger, credentialsDir: config.credentials_dir, maxConcurrent: config.max_concurrent_executions, routerCallback,
    tools: () => tools, workspaces: () => servedWorkspaces(config.credentials_dir),
    send: (type, body) => void link.agent?.mesh.send(type, body),
    deliver: () => delivery.flush(),
    onFinished: (tool, status) => executionMetrics.finished(tool, status),
  });
  link.engine = engine;
  const parentGone = () => void lifecycle.close('parent process went away').finally(() => process.exit(0));
  const retire = (reason: string) => holdRetired({ logger, lifecycle, reason, report: (message) => reportToParent({ ...message, metrics_url: metrics.url }, parentGone) });
  const agent = await startAgent({
    role: 'xem', registrationName: config.registration_name, routerUrl: config.router_url, joinKey: config.join_key,
    allowInsecure: early.allow_insecure, signingKeyPath: config.signing_key_path, curveKeyPath: config.curve_key_path,
    enrollmentPath: join(dirname(config.signing_key_path), 'enrollment.json'), agentVersion: AGENT_VERSION, logger,
    leaseRenewalIntervalMs: config.lease_renewal_interval_ms,
    manifest: () => versions.current(buildManifest(tools, servedWorkspaces(config.credentials_dir))),
    capacity: () => ({ max_concurrent: config.max_concurrent_executions, in_use: engine.running }),
    inFlight: () => engine.inFlight(),
    onFrame(frame) {
      if (frame.type === 'exec.dispatch') engine.dispatch(frame.body);
      else if (frame.type === 'exec.cancel') engine.cancel(frame.body);
    },
    onAck: (ack) => delivery.acknowledged(ack),
    onBound: () => delivery.rebound(),
    // Revoked or replaced while running: stop taking work, let running calls end, then stay retired.
    onFatal: (reason) => void Promise.resolve(link.agent?.close()).then(() => engine.drain(graceMs)).finally(() => retire(reason)),
  }).catch((error: unknown) => {
    if (error instanceof AgentRetired) return retire(error.reason);
    throw error;
  });
  if (!agent) return;
  link.agent = agent;
  lifecycle.defer('agent', () => agent.close());
  lifecycle.defer('delivery', async () => {
    await delivery.drained(AbortSignal.timeout(FLUSH_MS));
    delivery.close();
  });
  lifecycle.defer('running calls', () => engine.drain(graceMs));
  reportToParent({ type: 'listening', agent_id: agent.agentId, metrics_url: metrics.url }, parentGone);
}

async function loadTools(toolsDir: string, builtIn: readonly LoadedTool[], logger: Logger): Promise<Map<string, LoadedTool>> {
  const { tools, mcp, problems } = loadBundles(toolsDir);
  const discovered = await discoverMcpTools(mcp, plainEnvironment());
  for (const tool of [...discovered.tools, ...builtIn]) offerTool(tools, tool, problems);
  for (const problem of [...problems, ...discovered.problems]) logger.warning({ ...problem }, 'tool bundle skipped');
  logger.info({ tools: [...tools.keys()], tools_dir: toolsDir }, 'tool bundles loaded');
  return tools;
}

function program(env: Env): Command {
  const command = new Command('xerotier-xem-agent').description('Xerotier execution agent').allowExcessArguments(false);
  return addConfigOptions(command, xemAgentConfigSchema).action(async (options: Record<string, unknown>) =>
    run(loadConfig(xemAgentConfigSchema, { env, ...configArgsFromOptions(xemAgentConfigSchema, options) }), env),
  );
}

runMain(async () => {
  await program(process.env).parseAsync(process.argv);
});
