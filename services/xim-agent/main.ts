#!/usr/bin/env node
import { Command } from 'commander';
import { startAgent } from '../agent/agent.js';
import { ManifestVersions } from '../agent/manifest-versions.js';
import { addConfigOptions, configArgsFromOptions } from '../runtime/config/argv.js';
import { describeConfig, loadConfig, type Env } from '../runtime/config/load.js';
import { createLifecycle, handleShutdownSignals } from '../runtime/lifecycle.js';
import { createLogger } from '../runtime/logger.js';
import { createMetricsRegistry, startMetricsServer } from '../runtime/metrics.js';
import { logCrashes, reportToParent, runMain } from '../runtime/process.js';
import { ximAgentConfigSchema, type XIMAgentConfig } from './config.js';
import { engineAddress } from './engine/address.js';
import { describeAddress } from './engine/http.js';
import { probeEngine, type EngineState } from './engine/probe.js';
import { createInferenceRunner } from './inference/runner.js';

export const AGENT_VERSION = '0.1.0';
const EXIT_REENROLL = 3;
const EXIT_CONFIG = 78;
/** Slots when XEROTIER_AGENT_MAX_CONCURRENT is auto and the engine does not say. */
const DEFAULT_SLOTS = 64;

/**
 * The inference agent, attached to an OpenAI-compatible engine (XEROTIER_AGENT_ENGINE_URL: vLLM
 * started elsewhere, or the scripted engine). It enrolls, holds a lease whose manifest lists the
 * engine's models and health, and runs the router's infer.* frames against the engine.
 * Supervising vLLM itself (XEROTIER_AGENT_VLLM_PATH) is not implemented yet.
 */
async function run(config: XIMAgentConfig): Promise<void> {
  const logger = createLogger({ service: 'xim-agent', level: config.log_level, secrets: [config.join_key, config.vllm_salt_secret] });
  logCrashes(logger);
  if (config.engine_url === undefined) {
    logger.error({}, 'set XEROTIER_AGENT_ENGINE_URL (unix:///path or http://host:port): supervising vLLM from this agent is not implemented yet');
    process.exit(EXIT_CONFIG);
  }
  logger.info({ config: describeConfig(ximAgentConfigSchema, config) }, 'starting');
  const graceMs = config.shutdown_grace_seconds * 1_000;
  const lifecycle = createLifecycle({ logger, graceMs });
  handleShutdownSignals({ lifecycle, logger, graceMs });
  const registry = createMetricsRegistry('xim-agent');
  const metrics = config.disable_metrics_server ? undefined : await startMetricsServer(registry, { port: config.metrics_port });
  if (metrics) lifecycle.defer('metrics server', () => metrics.close());

  const address = engineAddress(config.engine_url);
  let engine: EngineState = await probeEngine(address);
  logger.info({ engine: describeAddress(address), healthy: engine.healthy, models: engine.models }, 'engine probed');
  const probe = setInterval(() => void probeEngine(address).then((state) => (engine = state)), 2_000);
  lifecycle.defer('engine probe', () => clearInterval(probe));
  const slots = () => config.max_concurrent ?? DEFAULT_SLOTS;
  const versions = new ManifestVersions();
  const link: { send?: (type: 'infer.chunk' | 'infer.done' | 'infer.error', body: Record<string, unknown>) => Promise<boolean> } = {};
  const runner = createInferenceRunner({
    engine: () => address, maxConcurrent: slots, saltSecret: config.vllm_salt_secret, logger,
    send: (type, body) => link.send?.(type as 'infer.chunk', body) ?? Promise.resolve(false),
  });
  const agent = await startAgent({
    role: 'xim', registrationName: config.registration_name, routerUrl: config.router_url, joinKey: config.join_key, allowInsecure: config.allow_insecure,
    signingKeyPath: config.signing_key_path, curveKeyPath: config.curve_key_path, enrollmentPath: config.enrollment_path, agentVersion: AGENT_VERSION, logger,
    leaseRenewalIntervalMs: config.lease_renewal_interval_ms,
    manifest: () => versions.current({ models: [...engine.models].sort(), scripted_models: [...engine.scripted].sort(), engine: { healthy: engine.healthy, attached: true } }),
    capacity: () => ({ max_concurrent: engine.healthy ? slots() : 0, in_use: runner.running }),
    health: () => ({ healthy: engine.healthy, running: engine.running, waiting: engine.waiting, kv_usage: engine.kvUsage }),
    onFrame(frame) {
      if (frame.type === 'infer.request') runner.request(frame.body);
      else if (frame.type === 'infer.cancel') runner.cancel(frame.body);
    },
    onFatal: (reason) => {
      logger.error({ reason }, 're-enrollment required: mint a new join key for this agent and restart it');
      void lifecycle.close('re-enrollment required').finally(() => process.exit(EXIT_REENROLL));
    },
  });
  link.send = (type, body) => agent.mesh.send(type, body as never);
  lifecycle.defer('agent', () => agent.close());
  lifecycle.defer('running requests', () => runner.drain(graceMs));
  reportToParent({ type: 'listening', agent_id: agent.agentId, metrics_url: metrics?.url ?? null }, () => {
    void lifecycle.close('parent process went away').finally(() => process.exit(0));
  });
}

function program(env: Env): Command {
  const command = new Command('xerotier-xim-agent').description('Xerotier inference agent').allowExcessArguments(false);
  return addConfigOptions(command, ximAgentConfigSchema).action(async (options: Record<string, unknown>) =>
    run(loadConfig(ximAgentConfigSchema, { env, ...configArgsFromOptions(ximAgentConfigSchema, options) })),
  );
}

runMain(async () => {
  await program(process.env).parseAsync(process.argv);
});
