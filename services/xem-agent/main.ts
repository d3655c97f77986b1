#!/usr/bin/env node
import { Command } from 'commander';
import { holdRetired } from '../agent/retired.js';
import { AgentRetired } from '../agent/retired.js';
import { addConfigOptions, configArgsFromOptions } from '../runtime/config/argv.js';
import { describeConfig, loadConfig, type Env } from '../runtime/config/load.js';
import { createLifecycle, handleShutdownSignals } from '../runtime/lifecycle.js';
import { createLogger } from '../runtime/logger.js';
import { createMetricsRegistry, startMetricsServer } from '../runtime/metrics.js';
import { logCrashes, reportToParent, runMain } from '../runtime/process.js';
import { telemetryConfigSchema } from '../runtime/telemetry-config.js';
import { startTracing } from '../runtime/tracing.js';
import { xemAgentConfigSchema, xemMetricsPortSchema, type XEMAgentConfig } from './config.js';
import { createXemAgent, FLUSH_MS } from './xem-agent.js';

export { AGENT_VERSION } from './xem-agent.js';

async function run(config: XEMAgentConfig, env: Env): Promise<void> {
  const early = loadConfig(xemMetricsPortSchema, { env });
  const logger = createLogger({
    service: 'xem-agent',
    level: config.log_level,
    secrets: [config.join_key, config.router_auth_token],
  });
  logCrashes(logger);
  logger.info({ config: describeConfig(xemAgentConfigSchema, config) }, 'starting');
  const graceMs = config.shutdown_grace_seconds * 1_000;
  const lifecycle = createLifecycle({ logger, graceMs: graceMs + FLUSH_MS });
  handleShutdownSignals({ lifecycle, logger, graceMs: graceMs + FLUSH_MS });
  // Closed last: spans of the calls that drain during shutdown are still exported.
  const tracing = startTracing(loadConfig(telemetryConfigSchema, { env }), 'xerotier-xem-agent');
  lifecycle.defer('tracing', () => tracing.shutdown());
  const registry = createMetricsRegistry('xem-agent');
  const metrics = await startMetricsServer(registry, { port: early.metrics_port });
  lifecycle.defer('metrics server', () => metrics.close());
  const parentGone = () => void lifecycle.close('parent process went away').finally(() => process.exit(0));
  const retire = (reason: string) =>
    holdRetired({
      logger,
      lifecycle,
      reason,
      report: (message) => reportToParent({ ...message, metrics_url: metrics.url }, parentGone),
    });

  const xem = createXemAgent(config, { logger, registry, env, allowInsecure: early.allow_insecure, onRetired: retire });
  // Running calls drain first, then their results are flushed, then the connection closes.
  lifecycle.defer('agent', () => xem.close(graceMs));
  const reload = () => xem.reload();
  process.on('SIGHUP', reload);
  lifecycle.defer('bundle reload', () => void process.off('SIGHUP', reload));
  try {
    const agentId = await xem.start(lifecycle.stopping);
    reportToParent({ type: 'listening', agent_id: agentId, metrics_url: metrics.url }, parentGone);
  } catch (error) {
    if (!(error instanceof AgentRetired)) throw error;
    retire(error.reason);
  }
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
