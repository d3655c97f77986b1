import { dirname, join } from 'node:path';
import { systemClock, type Clock } from '../runtime/clock.js';
import type { Registry } from 'prom-client';
import { createAgent, type Agent } from '../agent/agent.js';
import { registerAgentState } from '../agent/state-metric.js';
import type { Env } from '../runtime/config/load.js';
import type { Logger } from '../runtime/logger.js';
import { loadBundles, offerTool, type LoadedTool } from './bundles/loader.js';
import { buildManifest, ManifestVersions, servedWorkspaces } from './bundles/manifest.js';
import type { XEMAgentConfig } from './config.js';
import { createDelivery } from './execution/delivery.js';
import { createExecutionEngine, plainEnvironment } from './execution/engine.js';
import { registerExecutionMetrics } from './execution/metrics.js';
import { discoverMcpTools } from './executors/mcp.js';
import { routerCallbackTools } from './executors/router-callback.js';
import { openOutbox } from './outbox.js';

/** Dispatch ids are remembered this long, far past any redelivery. */
const DISPATCH_MEMORY_MS = 7 * 24 * 3_600_000;
/** After the grace for running calls, this long more to get their results acknowledged. */
export const FLUSH_MS = 5_000;
export const AGENT_VERSION = '0.1.0';

export interface XemAgentDependencies {
  readonly logger: Logger;
  readonly registry: Registry;
  /** The process environment: tools start from a plain part of it, never the agent's own settings. */
  readonly env: Env;
  readonly allowInsecure: boolean;
  /** The router revoked or replaced the agent while it ran (after it stopped taking work). */
  readonly onRetired: (reason: string) => void;
  /** Resends, dispatch deadlines, leases and reconnect waits. @default systemClock */
  readonly clock?: Clock;
}

export interface XemAgent {
  readonly agent: Agent;
  /** Loads bundles, opens the outbox (reporting what a crash interrupted), enrolls and connects. */
  start(signal?: AbortSignal): Promise<string>;
  /** SIGHUP: re-reads the bundles; calls already running keep the tool they started with. */
  reload(): void;
  /** Stops taking work, lets running calls end within the grace, flushes results, disconnects. */
  close(graceMs: number): Promise<void>;
}

/**
 * The execution agent's composition root, used by main.ts: the engine, the outbox delivery and
 * the mesh agent refer to each other through closures over the consts below, safe because
 * nothing can run before start().
 */
export function createXemAgent(config: XEMAgentConfig, deps: XemAgentDependencies): XemAgent {
  const { logger } = deps;
  const routerCallback = {
    routerUrl: config.router_url,
    token: config.router_auth_token,
    projectExternalId: config.project_external_id,
  };
  const builtIn = routerCallbackTools(routerCallback);
  const versions = new ManifestVersions();
  const baseEnv = plainEnvironment(deps.env);
  let tools = new Map<string, LoadedTool>();
  // A local file, opened now: what the engine and delivery are built on.
  const outbox = openOutbox(config.queue_db_path);
  const clock = deps.clock ?? systemClock;
  const delivery = createDelivery({
    outbox,
    logger,
    clock,
    bound: () => agent.bound,
    send: (type, body, frameId, trace) =>
      void agent.send(type, body as never, { id: frameId, ...(trace ? { trace } : {}) }),
  });
  const engine = createExecutionEngine({
    outbox,
    logger,
    clock,
    credentialsDir: config.credentials_dir,
    maxConcurrent: config.max_concurrent_executions,
    routerCallback,
    baseEnv,
    tools: () => tools,
    workspaces: () => servedWorkspaces(config.credentials_dir),
    send: (type, body, trace) => void agent.send(type, body, trace ? { trace } : {}),
    deliver: () => delivery.flush(),
    onFinished: (tool, status) => metrics.finished(tool, status),
  });
  const agent = createAgent({
    identity: {
      role: 'xem',
      registrationName: config.registration_name,
      signingKeyPath: config.signing_key_path,
      curveKeyPath: config.curve_key_path,
      enrollmentPath: join(dirname(config.signing_key_path), 'enrollment.json'),
      agentVersion: AGENT_VERSION,
    },
    router: { url: config.router_url, joinKey: config.join_key, allowInsecure: deps.allowInsecure },
    offer: {
      manifest: () => versions.current(buildManifest(tools, servedWorkspaces(config.credentials_dir))),
      capacity: () => ({ max_concurrent: config.max_concurrent_executions, in_use: engine.running }),
      inFlight: () => engine.inFlight(),
    },
    events: {
      onFrame(frame) {
        if (frame.type === 'exec.dispatch') engine.dispatch(frame.body, frame.trace);
        else if (frame.type === 'exec.cancel') engine.cancel(frame.body);
      },
      onAck: (ack) => delivery.acknowledged(ack),
      onBound: () => delivery.rebound(),
      // Revoked or replaced while running: stop taking work, let running calls end, then stay retired.
      onRetired: (reason) =>
        void agent
          .close()
          .then(() => engine.drain(config.shutdown_grace_seconds * 1_000))
          .finally(() => deps.onRetired(reason)),
    },
    logger,
    clock,
    leaseRenewalIntervalMs: config.lease_renewal_interval_ms,
  });
  const metrics = registerExecutionMetrics(deps.registry, { engine: () => engine, outbox });
  registerAgentState(deps.registry, () => agent.state);
  return {
    agent,
    async start(signal) {
      tools = await loadTools(config.tools_dir, builtIn, baseEnv, logger);
      outbox.prune(clock.now() - DISPATCH_MEMORY_MS);
      // Results of calls a crash interrupted, reported (never re-run) before any new dispatch.
      engine.recover();
      return agent.start(signal);
    },
    reload() {
      void loadTools(config.tools_dir, builtIn, baseEnv, logger).then((next) => (tools = next));
    },
    async close(graceMs) {
      await engine.drain(graceMs);
      await delivery.drained(AbortSignal.timeout(FLUSH_MS));
      delivery.close();
      await agent.close();
      outbox.close();
    },
  };
}

async function loadTools(
  toolsDir: string,
  builtIn: readonly LoadedTool[],
  baseEnv: Record<string, string>,
  logger: Logger,
): Promise<Map<string, LoadedTool>> {
  const { tools, mcp, problems } = loadBundles(toolsDir);
  const discovered = await discoverMcpTools(mcp, baseEnv);
  for (const tool of [...discovered.tools, ...builtIn]) offerTool(tools, tool, problems);
  for (const problem of [...problems, ...discovered.problems]) logger.warning({ ...problem }, 'tool bundle skipped');
  logger.info({ tools: [...tools.keys()], tools_dir: toolsDir }, 'tool bundles loaded');
  return tools;
}
