import type { Registry } from 'prom-client';
import { createAgent, ensureEnrolled, type Agent, type AgentOptions } from '../agent/agent.js';
import { ManifestVersions } from '../agent/manifest-versions.js';
import { registerAgentState } from '../agent/state-metric.js';
import type { Env } from '../runtime/config/load.js';
import type { Lifecycle } from '../runtime/lifecycle.js';
import type { Logger } from '../runtime/logger.js';
import type { XIMAgentConfig } from './config.js';
import { engineAddress } from './engine/address.js';
import { describeAddress, type EngineAddress } from './engine/http.js';
import { ENGINE_DOWN, probeEngine, type EngineState } from './engine/probe.js';
import { superviseEngine } from './engine/supervisor.js';
import { vllmCommand } from './engine/vllm-command.js';
import { createInferenceRunner } from './inference/runner.js';
import { registerXimMetrics } from './metrics.js';

export const AGENT_VERSION = '0.1.0';
/** Slots when XEROTIER_AGENT_MAX_CONCURRENT is auto and vLLM's --max-num-seqs is not set. */
const DEFAULT_SLOTS = 64;

export interface XimAgentDependencies {
  readonly logger: Logger;
  readonly registry: Registry;
  readonly env: Env;
  /** The supervised engine is registered here, so it stops after requests drain. */
  readonly lifecycle: Lifecycle;
  readonly onRetired: (reason: string) => void;
}

export interface XimAgent {
  readonly agent: Agent;
  /** Starts (or attaches to) the engine, probes it, enrolls and connects. */
  start(signal?: AbortSignal): Promise<string>;
  /** Stops serving, lets running requests end within the grace, disconnects. */
  close(graceMs: number): Promise<void>;
}

/**
 * The inference agent's composition root. It supervises vLLM (XEROTIER_AGENT_VLLM_PATH serving
 * XEROTIER_AGENT_MODEL on the Unix socket, restarted with backoff when it dies) or attaches to an
 * OpenAI-compatible engine already running (XEROTIER_AGENT_ENGINE_URL); holds a lease whose
 * manifest lists the engine's models and whose renewals carry its health and load; and runs the
 * router's infer.* frames against the engine.
 */
export function createXimAgent(config: XIMAgentConfig, deps: XimAgentDependencies): XimAgent {
  const { logger } = deps;
  const address: EngineAddress =
    config.engine_url !== undefined ? engineAddress(config.engine_url) : { socketPath: config.vllm_socket_path };
  let engine: EngineState = ENGINE_DOWN;
  let probe: NodeJS.Timeout | undefined;
  let restarts = () => 0;
  const slots = () => config.max_concurrent ?? config.max_num_seqs ?? DEFAULT_SLOTS;
  const versions = new ManifestVersions();
  const runner = createInferenceRunner({
    engine: () => address,
    maxConcurrent: slots,
    saltSecret: config.vllm_salt_secret,
    logger,
    send: (type, body, trace) => agent.send(type as 'infer.chunk', body as never, trace ? { trace } : {}),
  });
  const agent = createAgent({
    ...agentOptions(config, logger),
    offer: {
      manifest: () =>
        versions.current({
          models: [...engine.models].sort(),
          scripted_models: [...engine.scripted].sort(),
          engine: { healthy: engine.healthy, attached: config.engine_url !== undefined },
          // The scheduler's tier filter reads it; without it the agent serves every tier.
          ...(config.service_tiers.length ? { service_tiers: [...config.service_tiers].sort() } : {}),
        }),
      capacity: () => ({ max_concurrent: engine.healthy ? slots() : 0, in_use: runner.running }),
      health: () => ({
        healthy: engine.healthy,
        running: engine.running,
        waiting: engine.waiting,
        kv_usage: engine.kvUsage,
      }),
    },
    events: {
      onFrame(frame) {
        if (frame.type === 'infer.request') runner.request(frame.body, frame.trace);
        else if (frame.type === 'infer.cancel') runner.cancel(frame.body);
      },
      // Revoked or replaced while running: stop serving, finish what runs, then stay retired.
      onRetired: (reason) =>
        void agent
          .close()
          .then(() => runner.drain(config.shutdown_grace_seconds * 1_000))
          .finally(() => deps.onRetired(reason)),
    },
  });
  registerXimMetrics(deps.registry, { engine: () => engine, runner, restarts: () => restarts() });
  registerAgentState(deps.registry, () => agent.state);
  return {
    agent,
    async start(signal) {
      if (config.engine_url === undefined) restarts = superviseVllm(config, deps, address);
      engine = await probeEngine(address);
      logger.info(
        { engine: describeAddress(address), healthy: engine.healthy, models: engine.models },
        'engine probed',
      );
      probe = setInterval(() => void probeEngine(address).then((state) => (engine = state)), 2_000);
      return agent.start(signal);
    },
    async close(graceMs) {
      clearInterval(probe);
      await agent.close();
      await runner.drain(graceMs);
    },
  };
}

/** vLLM started now, stopped last (after requests drain); returns its restart count. */
function superviseVllm(config: XIMAgentConfig, deps: XimAgentDependencies, address: EngineAddress): () => number {
  const command = vllmCommand(
    {
      model: config.model!,
      vllmPath: config.vllm_path,
      socketPath: config.vllm_socket_path,
      extraArgs: config.vllm_args,
      extraEnv: config.vllm_env,
      gpuMemoryUtilization: config.gpu_memory_utilization,
      tensorParallelSize: config.tensor_parallel_size,
      ...(config.max_num_seqs ? { maxNumSeqs: config.max_num_seqs } : {}),
      ...(config.max_model_len ? { maxModelLen: config.max_model_len } : {}),
      ...(config.vllm_quantization ? { quantization: config.vllm_quantization } : {}),
    },
    deps.env,
  );
  const supervisor = superviseEngine({
    command,
    socketPath: 'socketPath' in address ? address.socketPath : config.vllm_socket_path,
    logger: deps.logger,
  });
  deps.lifecycle.defer('engine', () => supervisor.stop(config.shutdown_grace_seconds * 1_000));
  return () => supervisor.restarts;
}

function agentOptions(
  config: XIMAgentConfig,
  logger: Logger,
): Pick<AgentOptions, 'identity' | 'router' | 'logger' | 'leaseRenewalIntervalMs'> {
  return {
    identity: {
      role: 'xim',
      registrationName: config.registration_name,
      signingKeyPath: config.signing_key_path,
      curveKeyPath: config.curve_key_path,
      enrollmentPath: config.enrollment_path,
      agentVersion: AGENT_VERSION,
    },
    router: { url: config.router_url, joinKey: config.join_key, allowInsecure: config.allow_insecure },
    logger,
    leaseRenewalIntervalMs: config.lease_renewal_interval_ms,
  };
}

/** `enroll`: keys and enrollment persisted, nothing started — for images that enroll at build or init time. */
export async function enrollXim(
  config: XIMAgentConfig,
  logger: Logger,
): Promise<{ agentId: string; projectId: string }> {
  const enrollment = await ensureEnrolled({
    ...agentOptions(config, logger),
    offer: {
      manifest: () =>
        new ManifestVersions().current({
          models: [],
          scripted_models: [],
          engine: { healthy: false, attached: config.engine_url !== undefined },
        }),
      capacity: () => ({ max_concurrent: 0, in_use: 0 }),
    },
  });
  return { agentId: enrollment.agent_id, projectId: enrollment.project_id };
}
