import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lifecycle } from '../runtime/lifecycle.js';
import type { Logger } from '../runtime/logger.js';
import { spawnService } from './child-process.js';
import { keepRunning } from './keep-running.js';
import { REPO_ROOT, type DevPaths } from './dev-state.js';
import { choosePort } from './ports.js';

export interface DevAgent {
  role: 'xem' | 'xim';
  name: string;
  agent_id: string;
  status: string;
  metrics_url: string;
}

export interface DevAgentOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly paths: DevPaths;
  readonly logger: Logger;
  readonly lifecycle: Lifecycle;
  readonly routerUrl: string;
  readonly projectId: string;
  readonly adminKey: string;
  /** The project's default workspace: the agent serves it with credentials for the dev database. */
  readonly workspaceId: string;
  readonly databaseUrl: string;
  readonly echo?: NodeJS.WritableStream;
}

const NAME = 'dev-xem';

/**
 * One XEM agent beside the dev stack. Its keys and enrollment live under the dev directory, so
 * a restart reuses them; a join key is minted only when it has never enrolled. If it dies it is
 * started again (keep-running.ts); if the router says it was revoked or replaced (a wiped dev
 * database), the dev stack — its operator — mints a replacing key and enrolls it again.
 */
export async function startDevXemAgent(options: DevAgentOptions): Promise<DevAgent> {
  const dir = join(options.paths.root, 'xem');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeDevCredentials(join(dir, 'credentials', options.workspaceId), options.databaseUrl);
  const metricsPort = options.env['XEROTIER_XEM_METRICS_PORT'] ?? String(await choosePort(9095));
  const spawnAgent = (joinKey: string) =>
    spawnService({
      name: 'xem-agent',
      entry: join(REPO_ROOT, 'services/xem-agent/main.ts'),
      cwd: REPO_ROOT,
      env: {
        ...options.env,
        XEM_ROUTER_URL: options.routerUrl,
        XEM_JOIN_KEY: joinKey,
        XEM_REGISTRATION_NAME: NAME,
        XEM_SIGNING_KEY_PATH: join(dir, 'agent-signing-key.hex'),
        XEM_CURVE_KEY_PATH: join(dir, 'agent-curve-key.hex'),
        XEM_QUEUE_DB_PATH: join(dir, 'state', 'queue.sqlite'),
        XEM_TOOLS_DIR: join(REPO_ROOT, 'config', 'tools'),
        XEM_CREDENTIALS_DIR: join(dir, 'credentials'),
        XEROTIER_AGENT_ALLOW_INSECURE: '1',
        XEROTIER_XEM_METRICS_PORT: metricsPort,
      },
      logFile: join(options.paths.logs, 'xem-agent.log'),
      ...(options.echo ? { echo: options.echo } : {}),
    });
  let listening: Record<string, unknown> = {};
  const launch = async () => {
    const enrolled = existsSync(join(dir, 'enrollment.json'));
    let agent = spawnAgent(enrolled ? 'xjk_already-enrolled' : await mintJoinKey(options));
    const first = await agent.waitForMessage(['listening', 'retired'], 30_000);
    if (first['type'] === 'retired') {
      options.logger.warning(
        { reason: first['reason'] },
        'the dev XEM agent was retired by the router; enrolling it again',
      );
      await agent.stop(15_000);
      agent = spawnAgent(await mintJoinKey(options, 'xem', { allowReplace: true }));
      listening = await agent.waitForMessage('listening', 30_000);
    } else listening = first;
    await bindToWorkspace(options, String(listening['agent_id']));
    return agent;
  };
  await keepRunning({ name: 'xem agent', logger: options.logger, lifecycle: options.lifecycle, launch });
  const agentId = String(listening['agent_id']);
  const status = await waitUntilActive(options, agentId, Date.now(), 30_000);
  options.logger.info({ agent_id: agentId, status }, 'dev XEM agent up');
  return { role: 'xem', name: NAME, agent_id: agentId, status, metrics_url: String(listening['metrics_url']) };
}

export async function mintJoinKey(
  options: Pick<DevAgentOptions, 'routerUrl' | 'projectId' | 'adminKey'>,
  role: 'xem' | 'xim' = 'xem',
  extra: { allowReplace?: boolean } = {},
): Promise<string> {
  const response = await fetch(`${options.routerUrl}/${options.projectId}/v1/management/join-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      role,
      name: 'devstack',
      ttl_seconds: 600,
      ...(extra.allowReplace ? { allow_replace: true } : {}),
    }),
  });
  if (response.status !== 201)
    throw new Error(`could not mint a join key for the dev ${role.toUpperCase()} agent: HTTP ${response.status}`);
  return ((await response.json()) as { key: string }).key;
}

/** The operator's consent for the agent to run the default workspace's calls (idempotent). */
async function bindToWorkspace(options: DevAgentOptions, agentId: string): Promise<void> {
  const response = await fetch(
    `${options.routerUrl}/${options.projectId}/v1/management/workspaces/${options.workspaceId}/bindings`,
    {
      method: 'POST',
      headers: { authorization: `Bearer ${options.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: agentId }),
    },
  );
  if (response.status !== 201)
    throw new Error(`could not bind the dev XEM agent to the default workspace: HTTP ${response.status}`);
}

/** Active with a heartbeat from this run (a status left over from the last run proves nothing). */
export async function waitUntilActive(
  options: Pick<DevAgentOptions, 'routerUrl' | 'projectId' | 'adminKey'>,
  agentId: string,
  since: number,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${options.routerUrl}/${options.projectId}/v1/management/agents/${agentId}`, {
      headers: { authorization: `Bearer ${options.adminKey}` },
    });
    const agent = response.ok
      ? ((await response.json()) as { status: string; last_heartbeat: string | null })
      : undefined;
    const fresh =
      agent?.last_heartbeat !== null &&
      agent?.last_heartbeat !== undefined &&
      new Date(agent.last_heartbeat).getTime() >= since - 1_000;
    if (agent?.status === 'active' && fresh) return 'active';
    if (Date.now() > deadline) return fresh ? (agent?.status ?? 'unknown') : 'not connected';
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * The postgres bundle's credentials for the stack's own database, rewritten at every start (the
 * port or password may differ), so the dev agent's tools have something real to work on.
 */
function writeDevCredentials(folder: string, databaseUrl: string): void {
  const url = new URL(databaseUrl);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const lines = [
    `PGHOST=${url.hostname}`,
    `PGPORT=${url.port || '5432'}`,
    `PGUSER=${decodeURIComponent(url.username)}`,
    `PGPASSWORD=${decodeURIComponent(url.password)}`,
    'PGDATABASE=postgres',
  ];
  writeFileSync(join(folder, 'postgres.env'), `${lines.join('\n')}\n`, { mode: 0o600 });
}
