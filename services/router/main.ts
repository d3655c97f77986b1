#!/usr/bin/env node
import { Command } from 'commander';
import { addConfigOptions, configArgsFromOptions } from '../runtime/config/argv.js';
import { loadConfig, type Env } from '../runtime/config/load.js';
import { pickConfigSchema, type ConfigOf } from '../runtime/config/spec.js';
import { createLifecycle, handleShutdownSignals } from '../runtime/lifecycle.js';
import { createLogger } from '../runtime/logger.js';
import { logCrashes, reportToParent, runMain } from '../runtime/process.js';
import { telemetryConfigSchema } from '../runtime/telemetry-config.js';
import { startTracing } from '../runtime/tracing.js';
import { routerConfigSchema, type RouterConfig } from './config.js';
import { createRouter } from './router.js';
import { compileRouterSettings } from './settings.js';
import { migrate } from './store/migrate.js';

const migrateSchema = pickConfigSchema(routerConfigSchema, [
  'database_url',
  'log_level',
  'database_app_role',
  'database_app_password',
]);

async function serve(config: RouterConfig, env: Env): Promise<void> {
  const settings = compileRouterSettings(config);
  const logger = createLogger({ service: 'router', level: config.log_level, secrets: settings.secrets });
  logCrashes(logger);
  const lifecycle = createLifecycle({ logger, graceMs: settings.shutdownGraceMs });
  handleShutdownSignals({ lifecycle, logger, graceMs: settings.shutdownGraceMs });
  const tracing = startTracing(loadConfig(telemetryConfigSchema, { env }), 'xerotier-router');
  lifecycle.defer('tracing', () => tracing.shutdown());
  const router = createRouter(settings, { logger });
  lifecycle.defer('router', () => router.close());
  const addresses = await router.start();
  logger.info({ url: addresses.httpUrl, metrics: addresses.metricsUrl, tracing: tracing.enabled }, 'router listening');
  reportToParent(
    {
      type: 'listening',
      http_url: addresses.httpUrl,
      metrics_url: addresses.metricsUrl,
      mesh_endpoint: addresses.meshEndpoint,
    },
    () => {
      void lifecycle.close('parent process went away').finally(() => process.exit(0));
    },
  );
}

async function runMigrations(config: ConfigOf<typeof migrateSchema.keys>): Promise<void> {
  const logger = createLogger({
    service: 'router',
    level: config.log_level,
    secrets: [config.database_url, config.database_app_password].filter(
      (value): value is string => value !== undefined,
    ),
  });
  const appRole = {
    name: config.database_app_role,
    ...(config.database_app_password === undefined ? {} : { password: config.database_app_password }),
  };
  await migrate({ databaseUrl: config.database_url, logger, appRole });
}

function program(env: Env): Command {
  const root = new Command('xerotier-router').description(
    'Xerotier router: HTTPS APIs, mesh, scheduler, approvals, audit',
  );
  addConfigOptions(root.command('serve', { isDefault: true }).description('run the router'), routerConfigSchema).action(
    async (options: Record<string, unknown>) =>
      serve(loadConfig(routerConfigSchema, { env, ...configArgsFromOptions(routerConfigSchema, options) }), env),
  );
  addConfigOptions(
    root.command('migrate').description('apply pending database migrations and exit'),
    migrateSchema,
  ).action(async (options: Record<string, unknown>) => {
    const config = loadConfig(migrateSchema, { env, ...configArgsFromOptions(migrateSchema, options) });
    await runMigrations(config);
  });
  return root;
}

runMain(async () => {
  await program(process.env).parseAsync(process.argv);
});
