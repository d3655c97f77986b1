#!/usr/bin/env node
import { Command } from 'commander';
import { ensureEnrolled, startAgent, type AgentOptions } from '../agent/agent.js';
import { AgentRetired, holdRetired } from '../agent/retired.js';
import { ManifestVersions } from '../agent/manifest-versions.js';
import { addConfigOptions, configArgsFromOptions } from '../runtime/config/argv.js';
import { ConfigError, ConfigErrorCode } from '../runtime/config/errors.js';
import { describeConfig, loadConfig, type Env } from '../runtime/config/load.js';
import { createLifecycle, handleShutdownSignals, type Lifecycle } from '../runtime/lifecycle.js';
import { createLogger, type Logger } from '../runtime/logger.js';
import { createMetricsRegistry, startMetricsServer } from '../runtime/metrics.js';
import { logCrashes, reportToParent, runMain } from '../runtime/process.js';
import { ximAgentConfigSchema, type XIMAgentConfig } from './config.js';
import { engineAddress } from './engine/address.js';
import { describeAddress, type EngineAddress } from './engine/http.js';
import { probeEngine, type EngineState } from './engine/probe.js';
import { superviseEngine } from './engine/supervisor.js';
import { vllmCommand } from './engine/vllm-command.js';
import { createInferenceRunner } from './inference/runner.js';
import { registerXimMetrics } from './metrics.js';

export const AGENT_VERSION = '0.1.0';
/** Slots when XEROTIER_AGENT_MAX_CONCURRENT is auto and vLLM's --max-num-seqs is not set. */
const DEFAULT_SLOTS = 64;

/**
 * The inference agent. It supervises vLLM (XEROTIER_AGENT_VLLM_PATH serving XEROTIER_AGENT_MODEL
 * on the Unix socket, restarted with backoff when it dies) or attaches to an OpenAI-compatible
 * engine already running (XEROTIER_AGENT_ENGINE_URL); enrolls; holds a lease whose manifest
 * lists the engine's models and whose renewals carry its health and load; and runs the router's
 * infer.* frames against the engine.
 */
async function run(config: XIMAgentConfig, env: Env): Promise<void> {
  const logger = createLogger({ service: 'xim-agent', level: config.log_level, secrets: [config.join_key, config.vllm_salt_secret] });
  logCrashes(logger);
  logger.info({ config: describeConfig(ximAgentConfigSchema, config) }, 'starting');
  const graceMs = config.shutdown_grace_seconds * 1_000;
  const lifecycle = createLifecycle({ logger, graceMs });
  handleShutdownSignals({ lifecycle, logger, graceMs });
  const registry = createMetricsRegistry('xim-agent');
  const metrics = config.disable_metrics_server ? undefined : await startMetricsServer(registry, { port: config.metrics_port });
  if (metrics) lifecycle.defer('metrics server', () => metrics.close());

  const { address, restarts } = startEngine(config, env, logger, lifecycle, graceMs);
  let engine: EngineState = await probeEngine(address);
  logger.info({ engine: describeAddress(address), healthy: engine.healthy, models: engine.models }, 'engine probed');
  const probe = setInterval(() => void probeEngine(address).then((state) => (engine = state)), 2_000);
  lifecycle.defer('engine probe', () => clearInterval(probe));
  const slots = () => config.max_concurrent ?? config.max_num_seqs ?? DEFAULT_SLOTS;
  const versions = new ManifestVersions();
  const link: { send?: (type: 'infer.chunk' | 'infer.done' | 'infer.error', body: Record<string, unknown>) => Promise<boolean> } = {};
  const runner = createInferenceRunner({
    engine: () => address, maxConcurrent: slots, saltSecret: config.vllm_salt_secret, logger,
    send: (type, body) => link.send?.(type as 'infer.chunk', body) ?? Promise.resolve(false),
  });
  registerXimMetrics(registry, { engine: () => engine, runner, restarts });
  const parentGone = () => void lifecycle.close('parent process went away').finally(() => process.exit(0));
  const retire = (reason: string) => holdRetired({ logger, lifecycle, reason, report: (message) => reportToParent({ ...message, metrics_url: metrics?.url ?? null }, parentGone) });
  const running: { agent?: { close(): Promise<void> } } = {};
  const agent = await startAgent({
    ...agentOptions(config, logger),
    manifest: () => versions.current({ models: [...engine.models].sort(), scripted_models: [...engine.scripted].sort(), engine: { healthy: engine.healthy, attached: config.engine_url !== undefined } }),
    capacity: () => ({ max_concurrent: engine.healthy ? slots() : 0, in_use: runner.running }),
    health: () => ({ healthy: engine.healthy, running: engine.running, waiting: engine.waiting, kv_usage: engine.kvUsage }),
    onFrame(frame) {
      if (frame.type === 'infer.request') runner.request(frame.body);
      else if (frame.type === 'infer.cancel') runner.cancel(frame.body);
    },
    // Revoked or replaced while running: stop serving, finish what runs, then stay retired.
    onFatal: (reason) => void Promise.resolve(running.agent?.close()).then(() => runner.drain(graceMs)).finally(() => retire(reason)),
  }).catch((error: unknown) => {
    if (error instanceof AgentRetired) return retire(error.reason);
    throw error;
  });
  if (!agent) return;
  running.agent = agent;
  link.send = (type, body) => agent.mesh.send(type, body as never);
  lifecycle.defer('agent', () => agent.close());
  lifecycle.defer('running requests', () => runner.drain(graceMs));
  reportToParent({ type: 'listening', agent_id: agent.agentId, metrics_url: metrics?.url ?? null }, parentGone);
}

/** Attached: the given address. Supervised: vLLM started now, stopped last (after requests drain). */
function startEngine(config: XIMAgentConfig, env: Env, logger: Logger, lifecycle: Lifecycle, graceMs: number): { address: EngineAddress; restarts: () => number } {
  if (config.engine_url !== undefined) return { address: engineAddress(config.engine_url), restarts: () => 0 };
  if (config.model === undefined) {
    throw new ConfigError(ConfigErrorCode.missingRequiredConfig, 'XEROTIER_AGENT_MODEL is required to supervise vLLM (or set XEROTIER_AGENT_ENGINE_URL to attach to a running engine)', [
      { key: 'model', problem: 'missing', expected: 'the model vLLM serves', howToSet: 'XEROTIER_AGENT_MODEL, --model or model: in /etc/xerotier/xim.yaml' },
    ]);
  }
  const command = vllmCommand({
    model: config.model, vllmPath: config.vllm_path, socketPath: config.vllm_socket_path, extraArgs: config.vllm_args, extraEnv: config.vllm_env,
    gpuMemoryUtilization: config.gpu_memory_utilization, tensorParallelSize: config.tensor_parallel_size,
    ...(config.max_num_seqs ? { maxNumSeqs: config.max_num_seqs } : {}), ...(config.max_model_len ? { maxModelLen: config.max_model_len } : {}),
    ...(config.vllm_quantization ? { quantization: config.vllm_quantization } : {}),
  }, env);
  const supervisor = superviseEngine({ command, socketPath: config.vllm_socket_path, logger });
  lifecycle.defer('engine', () => supervisor.stop(graceMs));
  return { address: { socketPath: config.vllm_socket_path }, restarts: () => supervisor.restarts };
}

function agentOptions(config: XIMAgentConfig, logger: Logger): Pick<AgentOptions, 'role' | 'registrationName' | 'routerUrl' | 'joinKey' | 'allowInsecure' | 'signingKeyPath' | 'curveKeyPath' | 'enrollmentPath' | 'agentVersion' | 'logger' | 'leaseRenewalIntervalMs'> {
  return {
    role: 'xim', registrationName: config.registration_name, routerUrl: config.router_url, joinKey: config.join_key, allowInsecure: config.allow_insecure,
    signingKeyPath: config.signing_key_path, curveKeyPath: config.curve_key_path, enrollmentPath: config.enrollment_path, agentVersion: AGENT_VERSION, logger,
    leaseRenewalIntervalMs: config.lease_renewal_interval_ms,
  };
}

/** `enroll`: keys and enrollment persisted, then exit — for images that enroll at build or init time. */
async function enrollOnly(config: XIMAgentConfig): Promise<void> {
  const logger = createLogger({ service: 'xim-agent', level: config.log_level, secrets: [config.join_key, config.vllm_salt_secret] });
  const enrollment = await ensureEnrolled({
    ...agentOptions(config, logger), manifest: () => new ManifestVersions().current({ models: [], scripted_models: [], engine: { healthy: false, attached: config.engine_url !== undefined } }),
    capacity: () => ({ max_concurrent: 0, in_use: 0 }), onFatal: () => undefined,
  });
  logger.info({ agent_id: enrollment.agent_id, project_id: enrollment.project_id, enrollment_path: config.enrollment_path }, 'enrolled; start the agent with `run`');
}

function program(env: Env): Command {
  const root = new Command('xerotier-xim-agent').description('Xerotier inference agent');
  const load = (options: Record<string, unknown>) => loadConfig(ximAgentConfigSchema, { env, ...configArgsFromOptions(ximAgentConfigSchema, options) });
  addConfigOptions(root.command('run', { isDefault: true }).description('run the agent (enrolls first when it never has)'), ximAgentConfigSchema)
    .action(async (options: Record<string, unknown>) => run(load(options), env));
  addConfigOptions(root.command('enroll').description('enroll with the join key, persist keys and enrollment, and exit'), ximAgentConfigSchema)
    .action(async (options: Record<string, unknown>) => enrollOnly(load(options)));
  return root;
}

runMain(async () => {
  await program(process.env).parseAsync(process.argv);
});
