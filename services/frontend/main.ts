#!/usr/bin/env node
import { Command } from 'commander';
import { addConfigOptions, configArgsFromOptions } from '../runtime/config/argv.js';
import { loadConfig } from '../runtime/config/load.js';
import { createLifecycle, handleShutdownSignals } from '../runtime/lifecycle.js';
import { createLogger } from '../runtime/logger.js';
import { logCrashes, reportToParent, runMain } from '../runtime/process.js';
import { frontendConfigSchema } from './config.js';
import { compileFrontendSettings, createFrontend } from './frontend.js';

const root = new Command('xerotier-frontend').description(
  'Xerotier web UI: chat, /ops and admin, a thin proxy to the router',
);
addConfigOptions(root, frontendConfigSchema).action(async (options: Record<string, unknown>) => {
  const config = loadConfig(frontendConfigSchema, {
    env: process.env,
    ...configArgsFromOptions(frontendConfigSchema, options),
  });
  const settings = compileFrontendSettings(config);
  const logger = createLogger({ service: 'frontend', level: config.log_level, secrets: settings.secrets });
  logCrashes(logger);
  const lifecycle = createLifecycle({ logger, graceMs: settings.shutdownGraceMs });
  handleShutdownSignals({ lifecycle, logger, graceMs: settings.shutdownGraceMs });
  const frontend = createFrontend(settings, { logger });
  lifecycle.defer('web UI', () => frontend.close());
  const url = await frontend.start();
  reportToParent({ type: 'listening', http_url: url }, () => {
    void lifecycle.close('parent process went away').finally(() => process.exit(0));
  });
});

runMain(async () => {
  await root.parseAsync(process.argv);
});
