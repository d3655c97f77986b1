import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import pg from 'pg';
import { join } from 'node:path';
import type { Lifecycle } from '../runtime/lifecycle.js';
import type { Logger } from '../runtime/logger.js';
import { migrate } from '../router/store/migrate.js';
import { startDevXemAgent, type DevAgent } from './agents.js';
import { startDevInference } from './inference.js';
import { spawnService, type ServiceProcess } from './child-process.js';
import { databaseUrl, ensureDatabase } from './database.js';
import {
  DEV_PROJECT,
  REPO_ROOT,
  loadOrCreateDevSecrets,
  writePrivateJson,
  type DevPaths,
  type DevSecrets,
} from './dev-state.js';
import { choosePort } from './ports.js';
import { ensureDevAdminPassword } from './people.js';

export interface StackInfo {
  /** The web UI (services/frontend): sign in there with admin_email and admin_password. */
  frontend_url: string;
  router_url: string;
  project_id: string;
  workspace_id: string;
  admin_api_key: string;
  /** Sign in to the UI or `xeroctl login` as this person, with this password. */
  admin_email: string;
  admin_password: string;
  agents: DevAgent[];
  mesh_endpoint: string;
  metrics_urls: Record<string, string>;
  database_url: string;
  database: 'embedded' | 'external';
  started_at: string;
  pid: number;
}

export interface StackOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly paths: DevPaths;
  readonly logger: Logger;
  readonly lifecycle: Lifecycle;
  readonly echo?: NodeJS.WritableStream;
  /** Called when a service dies on its own: the stack cannot run without it. */
  readonly onServiceExit: (name: string, code: number | null, lastOutput: readonly string[]) => void;
}

const CHILD_STOP_GRACE_MS = 15_000;
const DEV_APP_ROLE = 'xerotier_app';

function asRole(databaseUrl: string, role: string, password: string): string {
  const url = new URL(databaseUrl);
  url.username = role;
  url.password = password;
  return url.toString();
}

/** Boots the whole local stack; every piece registers its closer as it comes up. */
export async function startStack(options: StackOptions): Promise<StackInfo> {
  const { paths, logger, lifecycle } = options;
  const secrets = await loadOrCreateDevSecrets(paths.secrets);
  const database = await provideDatabase(options, secrets);
  // Migrations as the owner; the router as the app role, which cannot rewrite the audit log.
  await migrate({
    databaseUrl: database.url,
    logger,
    appRole: { name: DEV_APP_ROLE, password: secrets.app_db_password },
  });

  const mesh = options.env['XEROTIER_MESH_BIND'] ?? `tcp://127.0.0.1:${await choosePort(5555)}`;
  const router = spawnService({
    name: 'router',
    entry: join(REPO_ROOT, 'services/router/main.ts'),
    cwd: REPO_ROOT,
    env: await routerEnv(options.env, asRole(database.url, DEV_APP_ROLE, secrets.app_db_password), secrets, mesh),
    logFile: join(paths.logs, 'router.log'),
    ...(options.echo ? { echo: options.echo } : {}),
  });
  lifecycle.defer('router', () => router.stop(CHILD_STOP_GRACE_MS));
  watchExit(router, options);
  const listening = await router.waitForMessage('listening', 30_000);
  const routerUrl = String(listening['http_url']);
  await waitUntilReady(routerUrl, 30_000);

  const { project, workspace } = await devProject(database.url);
  const adminEmail = await ensureDevAdminPassword({
    routerUrl,
    projectId: project,
    adminKey: secrets.admin_api_key,
    password: secrets.admin_password,
  });
  const xem = await startDevXemAgent({
    env: options.env,
    paths,
    logger,
    lifecycle,
    routerUrl,
    projectId: project,
    adminKey: secrets.admin_api_key,
    workspaceId: workspace,
    databaseUrl: database.url,
    ...(options.echo ? { echo: options.echo } : {}),
  });
  const xim = await startDevInference({
    env: options.env,
    paths,
    logger,
    lifecycle,
    routerUrl,
    projectId: project,
    adminKey: secrets.admin_api_key,
    saltSeed: secrets.completion_encryption_key,
    ...(options.echo ? { echo: options.echo } : {}),
  });
  const frontendUrl = await startFrontend(options, routerUrl, project);
  const info: StackInfo = {
    frontend_url: frontendUrl,
    router_url: routerUrl,
    project_id: project,
    workspace_id: workspace,
    admin_api_key: secrets.admin_api_key,
    admin_email: adminEmail,
    admin_password: secrets.admin_password,
    mesh_endpoint: typeof listening['mesh_endpoint'] === 'string' ? listening['mesh_endpoint'] : mesh,
    metrics_urls: {
      router: String(listening['metrics_url']),
      'xem-agent': xem.metrics_url,
      'xim-agent': xim.metrics_url,
    },
    agents: [xem, xim],
    database_url: database.url,
    database: database.kind,
    started_at: new Date().toISOString(),
    pid: process.pid,
  };
  await writePrivateJson(paths.stackFile, info);
  lifecycle.defer('stack file', () => rm(paths.stackFile, { force: true }));
  return info;
}

/** The web UI beside the router, serving the dev project. */
async function startFrontend(options: StackOptions, routerUrl: string, project: string): Promise<string> {
  const frontend = spawnService({
    name: 'frontend',
    entry: join(REPO_ROOT, 'services/frontend/main.ts'),
    cwd: REPO_ROOT,
    env: {
      ...options.env,
      XEROTIER_FRONTEND_ROUTER_URL: routerUrl,
      XEROTIER_FRONTEND_PROJECT: project,
      XEROTIER_FRONTEND_HTTP_HOST: options.env['XEROTIER_FRONTEND_HTTP_HOST'] ?? '127.0.0.1',
      XEROTIER_FRONTEND_HTTP_PORT: options.env['XEROTIER_FRONTEND_HTTP_PORT'] ?? String(await choosePort(8090)),
    },
    logFile: join(options.paths.logs, 'frontend.log'),
    ...(options.echo ? { echo: options.echo } : {}),
  });
  options.lifecycle.defer('frontend', () => frontend.stop(CHILD_STOP_GRACE_MS));
  watchExit(frontend, options);
  const listening = await frontend.waitForMessage('listening', 30_000);
  return String(listening['http_url']);
}

async function provideDatabase(
  options: StackOptions,
  secrets: DevSecrets,
): Promise<{ url: string; kind: 'embedded' | 'external' }> {
  const external = options.env['XEROTIER_DATABASE_URL'];
  if (external) return { url: external, kind: 'external' };
  const port = await choosePort(54329);
  const postgres = spawnService({
    name: 'postgres',
    entry: join(REPO_ROOT, 'services/devstack/postgres-main.ts'),
    cwd: REPO_ROOT,
    env: {
      ...options.env,
      XEROTIER_EMBEDDED_PG: JSON.stringify({
        dataDir: options.paths.pgData,
        port,
        user: 'postgres',
        password: secrets.postgres_password,
      }),
    },
    logFile: join(options.paths.logs, 'postgres.log'),
  });
  options.lifecycle.defer('embedded postgres', () => postgres.stop(CHILD_STOP_GRACE_MS));
  watchExit(postgres, options);
  postgres.child.on('message', (message: { type?: string; message?: string }) => {
    if (message.type === 'notice') options.logger.notice({ component: 'postgres' }, String(message.message));
  });
  await postgres.waitForMessage('ready', 120_000);
  options.logger.info({ port, data: options.paths.pgData }, 'embedded postgres ready');
  await ensureDatabase(databaseUrl(port, 'postgres', secrets.postgres_password, 'postgres'), 'xerotier');
  return { url: databaseUrl(port, 'postgres', secrets.postgres_password, 'xerotier'), kind: 'embedded' };
}

async function routerEnv(
  env: NodeJS.ProcessEnv,
  database: string,
  secrets: DevSecrets,
  mesh: string,
): Promise<NodeJS.ProcessEnv> {
  return {
    ...env,
    XEROTIER_DATABASE_URL: database,
    XEROTIER_COMPLETION_ENCRYPTION_KEY: env['XEROTIER_COMPLETION_ENCRYPTION_KEY'] ?? secrets.completion_encryption_key,
    XEROTIER_TOKEN_SIGNING_KEY: env['XEROTIER_TOKEN_SIGNING_KEY'] ?? secrets.token_signing_key,
    XEROTIER_ROUTER_CURVE_SECRET_KEY: env['XEROTIER_ROUTER_CURVE_SECRET_KEY'] ?? secrets.router_curve_secret_key,
    XEROTIER_AUDIT_SIGNING_KEY: env['XEROTIER_AUDIT_SIGNING_KEY'] ?? secrets.audit_signing_key,
    XEROTIER_HTTP_HOST: env['XEROTIER_HTTP_HOST'] ?? '127.0.0.1',
    XEROTIER_HTTP_PORT: env['XEROTIER_HTTP_PORT'] ?? String(await choosePort(8080)),
    XEROTIER_ROUTER_METRICS_HOST: env['XEROTIER_ROUTER_METRICS_HOST'] ?? '127.0.0.1',
    XEROTIER_ROUTER_METRICS_PORT: env['XEROTIER_ROUTER_METRICS_PORT'] ?? String(await choosePort(9092)),
    XEROTIER_MESH_BIND: env['XEROTIER_MESH_BIND'] ?? mesh,
    XEROTIER_BOOTSTRAP_PROJECT: DEV_PROJECT,
    XEROTIER_BOOTSTRAP_ADMIN_KEY_SHA256: createHash('sha256')
      .update(secrets.admin_api_key.slice(`xero_${DEV_PROJECT}_`.length))
      .digest('hex'),
  };
}

function watchExit(service: ServiceProcess, options: StackOptions): void {
  void service.exited.then(({ code }) => {
    // Let the pipes drain so the last words of the process are in recentOutput.
    setTimeout(() => {
      if (!options.lifecycle.closing) options.onServiceExit(service.name, code, service.recentOutput());
    }, 50);
  });
}

async function waitUntilReady(routerUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const response = await fetch(`${routerUrl}/readyz`).catch(() => undefined);
    if (response?.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`router at ${routerUrl} was not ready within ${timeoutMs} ms`);
}

async function devProject(databaseUrl: string): Promise<{ project: string; workspace: string }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const found = await client.query<{ project: string; workspace: string }>(
      'SELECT p.id AS project, w.id AS workspace FROM projects p JOIN workspaces w ON w.project_id = p.id AND w.is_default WHERE p.slug = $1',
      [DEV_PROJECT],
    );
    return found.rows[0]!;
  } finally {
    await client.end();
  }
}
