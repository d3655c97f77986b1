import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateCurveKeyPair } from '../../services/protocol/curve-keys.js';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { trackOpen } from './open-resources.js';
import { engineRequest, readAll } from '../../services/xim-agent/engine/http.js';
import { parseVllmMetrics } from '../../services/xim-agent/engine/probe.js';

/** The environment minus every XEROTIER_* variable (a new user's shell), plus overrides. */
export function cleanEnv(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('XEROTIER_')));
  return { ...env, ...overrides };
}

export interface Spawned {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns a command in its own process group (so a signal can reach the group like Ctrl-C). */
export function spawnGroup(command: string, args: readonly string[], env: NodeJS.ProcessEnv, ipc = false): Spawned {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? (['ipc'] as const) : [])],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  // Open until the leader has exited and nothing else in its group (a tool it started) lives on.
  const what = `process ${[command, ...args].join(' ').slice(0, 120)}`;
  trackGroup(what, child, exited);
  return { child, stdout: () => out, stderr: () => err, exited };
}

function trackGroup(what: string, child: ChildProcess, exited: Promise<unknown>): void {
  const closed = trackOpen(what);
  const pgid = child.pid;
  if (pgid === undefined) return closed();
  void exited.then(async () => {
    // A group outliving its leader has no event of its own: polled until it is gone.
    while (groupAlive(pgid)) await new Promise((resolve) => setTimeout(resolve, 50).unref());
    closed();
  });
}

export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    // A condition in another process or the database: polled (each probe is one cheap read).
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function httpStatus(url: string): Promise<number | undefined> {
  try {
    return (await fetch(url)).status;
  } catch {
    return undefined;
  }
}

/** Fresh router secrets, as a deployment would hand them to every replica. */
export function routerSecretsEnv(): Record<string, string> {
  return {
    XEROTIER_COMPLETION_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    XEROTIER_TOKEN_SIGNING_KEY: randomBytes(32).toString('hex'),
    XEROTIER_ROUTER_CURVE_SECRET_KEY: generateCurveKeyPair().secretKey,
    XEROTIER_AUDIT_SIGNING_KEY: randomBytes(32).toString('hex'),
  };
}

/** Bootstraps the `acme` project with the admin key `xero_acme_<secret>` (only its hash is configured). */
export function acmeBootstrapEnv(secret: string): Record<string, string> {
  return {
    XEROTIER_BOOTSTRAP_PROJECT: 'acme',
    XEROTIER_BOOTSTRAP_ADMIN_KEY_SHA256: createHash('sha256').update(secret).digest('hex'),
  };
}

/** A router on loopback with every port picked by the kernel. */
export const LOOPBACK_ROUTER_ENV: Readonly<Record<string, string>> = {
  XEROTIER_HTTP_HOST: '127.0.0.1',
  XEROTIER_HTTP_PORT: '0',
  XEROTIER_ROUTER_METRICS_HOST: '127.0.0.1',
  XEROTIER_ROUTER_METRICS_PORT: '0',
  XEROTIER_MESH_BIND: 'tcp://127.0.0.1:*',
};

/** The next IPC message of a child (services report `listening` this way). */
export function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message as T));
    child.once('exit', (code) => reject(new Error(`process exited with ${code} before reporting`)));
  });
}

/**
 * A real XEM agent process (own process group, IPC for its `listening` report) whose keys,
 * enrollment, tools, credentials and outbox all live under `dir`.
 */
export function spawnXemAgent(options: {
  routerUrl: string;
  joinKey: string;
  name: string;
  dir: string;
  intervalMs?: number;
  env?: Record<string, string>;
  nodeArgs?: readonly string[];
}): Spawned {
  const { dir } = options;
  return spawnGroup(
    process.execPath,
    [...(options.nodeArgs ?? []), '--import', 'tsx', 'services/xem-agent/main.ts'],
    cleanEnv({
      XEM_ROUTER_URL: options.routerUrl,
      XEM_JOIN_KEY: options.joinKey,
      XEM_REGISTRATION_NAME: options.name,
      XEM_SIGNING_KEY_PATH: join(dir, 'sign.hex'),
      XEM_CURVE_KEY_PATH: join(dir, 'curve.hex'),
      XEM_LEASE_RENEWAL_INTERVAL_MS: String(options.intervalMs ?? 1_000),
      XEM_TOOLS_DIR: join(dir, 'tools'),
      XEM_CREDENTIALS_DIR: join(dir, 'credentials'),
      XEM_QUEUE_DB_PATH: join(dir, 'state', 'queue.sqlite'),
      XEROTIER_AGENT_ALLOW_INSECURE: '1',
      XEROTIER_XEM_METRICS_PORT: '0',
      ...options.env,
    }),
    true,
  );
}

/** A real XIM agent process attached to an engine (or supervising one), with its keys and enrollment under `dir`. */
export function spawnXimAgent(options: {
  routerUrl: string;
  joinKey: string;
  name: string;
  dir: string;
  engineUrl?: string;
  env?: Record<string, string>;
  args?: readonly string[];
}): Spawned {
  const { dir } = options;
  return spawnGroup(
    process.execPath,
    ['--import', 'tsx', 'services/xim-agent/main.ts', ...(options.args ?? [])],
    cleanEnv({
      XEROTIER_AGENT_ROUTER_URL: options.routerUrl,
      XEROTIER_AGENT_JOIN_KEY: options.joinKey,
      XEROTIER_AGENT_REGISTRATION_NAME: options.name,
      XEROTIER_AGENT_SIGNING_KEY_PATH: join(dir, 'sign.hex'),
      XEROTIER_AGENT_CURVE_KEY_PATH: join(dir, 'curve.hex'),
      XEROTIER_AGENT_ENROLLMENT_PATH: join(dir, 'enrollment.json'),
      ...(options.engineUrl ? { XEROTIER_AGENT_ENGINE_URL: options.engineUrl } : {}),
      XEROTIER_AGENT_ALLOW_INSECURE: '1',
      XEROTIER_AGENT_METRICS_PORT: '0',
      XEROTIER_AGENT_LEASE_RENEWAL_INTERVAL_MS: '500',
      ...options.env,
    }),
    true,
  );
}

/** A router process (own process group); resolves once it reports listening. */
/** The scripted engine serving `model` on a Unix socket, as vLLM would be started; resolves once it answers. */
export async function startScriptedEngine(
  model: string,
  socket: string,
  extraArgs: readonly string[] = [],
): Promise<Spawned> {
  const engine = spawnGroup(
    process.execPath,
    ['--import', 'tsx', 'services/xim-agent/scripted-engine/main.ts', 'serve', model, '--uds', socket, ...extraArgs],
    cleanEnv(),
  );
  await waitFor('the engine listening', 20_000, async () => {
    const metrics = await engineRequest({ socketPath: socket }, '/metrics', { timeoutMs: 2_000 })
      .then(readAll)
      .catch(() => undefined);
    return metrics && parseVllmMetrics(metrics).running === 0 ? true : undefined;
  });
  return engine;
}

export async function spawnRouterProcess(
  env: NodeJS.ProcessEnv,
  nodeArgs: readonly string[] = [],
): Promise<{ run: Spawned; http_url: string; mesh_endpoint: string; metrics_url: string }> {
  const run = spawnGroup(process.execPath, [...nodeArgs, '--import', 'tsx', 'services/router/main.ts'], env, true);
  const listening = await nextMessage<{ http_url: string; mesh_endpoint: string; metrics_url: string }>(run.child);
  return { run, ...listening };
}

/** Reads a Server-Sent Events stream until `until` says stop (or the stream ends); returns the events. */
export async function readSse(
  url: string,
  headers: Record<string, string>,
  until: (event: { event: string; data: unknown }) => boolean,
  timeoutMs = 30_000,
): Promise<{ event: string; data: unknown }[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: { event: string; data: unknown }[] = [];
  try {
    const response = await fetch(url, { headers, signal: controller.signal });
    if (!response.ok || !response.body) throw new Error(`SSE ${url} answered ${response.status}`);
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += Buffer.from(chunk).toString('utf8');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (name === undefined || data === undefined) continue;
        const event = { event: name, data: JSON.parse(data) as unknown };
        events.push(event);
        if (until(event)) return events;
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
