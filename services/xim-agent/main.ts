#!/usr/bin/env node
import { Command } from 'commander';
import { AgentRetired, holdRetired } from '../agent/retired.js';
import { addConfigOptions, configArgsFromOptions } from '../runtime/config/argv.js';
import { describeConfig, loadConfig, type Env } from '../runtime/config/load.js';
import { createLifecycle, handleShutdownSignals } from '../runtime/lifecycle.js';
import { createLogger } from '../runtime/logger.js';
import { createMetricsRegistry, startMetricsServer } from '../runtime/metrics.js';
import { logCrashes, reportToParent, runMain } from '../runtime/process.js';
import { telemetryConfigSchema } from '../runtime/telemetry-config.js';
import { startTracing } from '../runtime/tracing.js';
import { ximAgentConfigSchema, type XIMAgentConfig } from './config.js';
import { createXimAgent, enrollXim } from './xim-agent.js';

export { AGENT_VERSION } from './xim-agent.js';

async function run(config: XIMAgentConfig, env: Env): Promise<void> {
  const logger = createLogger({
    service: 'xim-agent',
    level: config.log_level,
    secrets: [config.join_key, config.vllm_salt_secret],
  });
  logCrashes(logger);
  logger.info({ config: describeConfig(ximAgentConfigSchema, config) }, 'starting');
  const graceMs = config.shutdown_grace_seconds * 1_000;
  const lifecycle = createLifecycle({ logger, graceMs });
  handleShutdownSignals({ lifecycle, logger, graceMs });
  // Closed last: spans of the calls that drain during shutdown are still exported.
  const tracing = startTracing(loadConfig(telemetryConfigSchema, { env }), 'xerotier-xim-agent');
  lifecycle.defer('tracing', () => tracing.shutdown());
  const registry = createMetricsRegistry('xim-agent');
  const metrics = config.disable_metrics_server
    ? undefined
    : await startMetricsServer(registry, { port: config.metrics_port });
  if (metrics) lifecycle.defer('metrics server', () => metrics.close());
  const parentGone = () => void lifecycle.close('parent process went away').finally(() => process.exit(0));
  const retire = (reason: string) =>
    holdRetired({
      logger,
      lifecycle,
      reason,
      report: (message) => reportToParent({ ...message, metrics_url: metrics?.url ?? null }, parentGone),
    });

  const xim = createXimAgent(config, { logger, registry, env, lifecycle, onRetired: retire });
  // Registered after the engine (which start() registers first): requests drain before it stops.
  const started = xim.start(lifecycle.stopping);
  lifecycle.defer('agent', () => xim.close(graceMs));
  try {
    const agentId = await started;
    reportToParent({ type: 'listening', agent_id: agentId, metrics_url: metrics?.url ?? null }, parentGone);
  } catch (error) {
    if (!(error instanceof AgentRetired)) throw error;
    retire(error.reason);
  }
}

/** `enroll`: keys and enrollment persisted, then exit — for images that enroll at build or init time. */
async function enrollOnly(config: XIMAgentConfig): Promise<void> {
  const logger = createLogger({
    service: 'xim-agent',
    level: config.log_level,
    secrets: [config.join_key, config.vllm_salt_secret],
  });
  const enrolled = await enrollXim(config, logger);
  logger.info(
    { agent_id: enrolled.agentId, project_id: enrolled.projectId, enrollment_path: config.enrollment_path },
    'enrolled; start the agent with `run`',
  );
}

function program(env: Env): Command {
  const root = new Command('xerotier-xim-agent').description('Xerotier inference agent');
  const load = (options: Record<string, unknown>) =>
    loadConfig(ximAgentConfigSchema, { env, ...configArgsFromOptions(ximAgentConfigSchema, options) });
  addConfigOptions(
    root.command('run', { isDefault: true }).description('run the agent (enrolls first when it never has)'),
    ximAgentConfigSchema,
  ).action(async (options: Record<string, unknown>) => run(load(options), env));
  addConfigOptions(
    root.command('enroll').description('enroll with the join key, persist keys and enrollment, and exit'),
    ximAgentConfigSchema,
  ).action(async (options: Record<string, unknown>) => enrollOnly(load(options)));
  return root;
}

runMain(async () => {
  await program(process.env).parseAsync(process.argv);
});
