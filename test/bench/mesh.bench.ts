import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { generateCurveKeyPair } from '../../services/protocol/curve-keys.js';
import { generateSigningKeyPair } from '../../services/protocol/signing.js';
import { migrate } from '../../services/router/store/migrate.js';
import { startEmbeddedServer } from '../helpers/embedded-server.js';
import { silentLogger } from '../helpers/logger.js';
import { LOOPBACK_ROUTER_ENV, nextMessage, routerSecretsEnv } from '../helpers/processes.js';
import { withDatabase, withPgClient } from '../helpers/pg-admin.js';
import { round, type Figures } from './report.js';

export interface MeshBenchShape {
  readonly agents: number;
  readonly workers: number;
  readonly intervalMs: number;
}

/** `mesh`: 1,000 agents renewing every second. `mesh-10k`: the 10,000-agent target at the router's default 10 s interval. */
export const MESH_SHAPES: Readonly<Record<'mesh' | 'mesh-10k', MeshBenchShape>> = {
  mesh: { agents: 1_000, workers: 4, intervalMs: 1_000 },
  'mesh-10k': { agents: 10_000, workers: 8, intervalMs: 10_000 },
};

/**
 * Agents held by one router process: N simulated agents in a few worker processes bind over
 * CURVE with signed HELLOs and renew leases every intervalMs; the router's CPU and RSS are read
 * from /proc over a steady window. XEROTIER_BENCH_AGENTS / _WORKERS / _INTERVAL_MS override.
 */
export async function runMeshBench(shape: MeshBenchShape = MESH_SHAPES.mesh): Promise<Figures> {
  const count = Number(process.env['XEROTIER_BENCH_AGENTS'] ?? shape.agents);
  const workerCount = Number(process.env['XEROTIER_BENCH_WORKERS'] ?? shape.workers);
  const intervalMs = Number(process.env['XEROTIER_BENCH_INTERVAL_MS'] ?? shape.intervalMs);
  const windowMs = Math.max(10_000, 2 * intervalMs);
  const server = process.env['XEROTIER_TEST_DATABASE_URL'] ? undefined : await startEmbeddedServer();
  const serverUrl = process.env['XEROTIER_TEST_DATABASE_URL'] ?? server!.url;
  const database = `xbench_${randomBytes(4).toString('hex')}`;
  await withPgClient(serverUrl, (client) => client.query(`CREATE DATABASE ${database}`));
  const databaseUrl = withDatabase(serverUrl, database);
  const children: ChildProcess[] = [];
  try {
    await migrate({ databaseUrl, logger: silentLogger() });
    const router = await startRouter(databaseUrl, intervalMs);
    children.push(router.child);
    const rssBefore = rssKb(router.child.pid!);
    const agents = await enrollAgents(router.url, router.adminKey, router.projectId, count);
    const workers = startWorkers(router.meshEndpoint, router.routerKey, agents, workerCount, intervalMs);
    children.push(...workers.map((worker) => worker.child));
    await waitFor(
      () => workers.reduce((sum, worker) => sum + worker.bound, 0),
      count,
      Math.max(120_000, count * 30),
      router.metricsUrl,
    );
    // Warm-up: every agent renews at least once before the measured window.
    await new Promise((resolve) => setTimeout(resolve, 2 * intervalMs));
    const receivedStart = await framesReceived(router.metricsUrl);
    const cpuStart = cpuMicros(router.child.pid!);
    const acksStart = workers.reduce((sum, worker) => sum + worker.acks, 0);
    // The measured window itself: a rate is frames over a span of time.
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    const cpu = cpuMicros(router.child.pid!) - cpuStart;
    const received = (await framesReceived(router.metricsUrl)) - receivedStart;
    const renewals = workers.reduce((sum, worker) => sum + worker.acks, 0) - acksStart;
    const held = workers.reduce((sum, worker) => sum + worker.bound, 0);
    return {
      agents_held: held,
      renewal_interval_ms: intervalMs,
      renewals_per_s: round(renewals / (windowMs / 1_000)),
      router_frames_received_per_s: round(received / (windowMs / 1_000)),
      router_cpu_us_per_renewal: round(cpu / Math.max(1, renewals)),
      router_cpu_share: round(cpu / (windowMs * 1_000), 3),
      router_rss_kb_per_agent: round((rssKb(router.child.pid!) - rssBefore) / Math.max(1, held)),
    };
  } finally {
    for (const child of children.slice(1)) child.kill('SIGKILL');
    await stopGently(children[0]);
    await withPgClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).catch(
      () => undefined,
    );
    await server?.stop();
  }
}

async function startRouter(databaseUrl: string, intervalMs: number) {
  const adminSecret = randomBytes(32).toString('base64url');
  const profile = process.env['XEROTIER_BENCH_PROFILE_DIR']
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env['XEROTIER_BENCH_PROFILE_DIR']}`]
    : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', join(REPO_ROOT, 'services/router/main.ts')], {
    cwd: REPO_ROOT,
    stdio: [
      'ignore',
      process.env['XEROTIER_BENCH_ROUTER_LOG'] ? openSync(process.env['XEROTIER_BENCH_ROUTER_LOG'], 'w') : 'ignore',
      'inherit',
      'ipc',
    ],
    env: {
      ...process.env,
      ...routerSecretsEnv(),
      ...LOOPBACK_ROUTER_ENV,
      XEROTIER_DATABASE_URL: databaseUrl,
      XEROTIER_LOG_LEVEL: 'warning',
      XEROTIER_DATABASE_POOL_MAX: '30',
      XEROTIER_ROUTER_LEASE_RENEWAL_INTERVAL_MS: String(intervalMs),
      XEROTIER_ROUTER_HEARTBEAT_TIMEOUT_MS: String(intervalMs * 3),
      XEROTIER_BOOTSTRAP_PROJECT: 'bench',
      XEROTIER_BOOTSTRAP_ADMIN_KEY_SHA256: createHash('sha256').update(adminSecret).digest('hex'),
    },
  });
  const listening = await nextMessage<{ http_url: string; mesh_endpoint: string; metrics_url: string }>(child);
  const adminKey = `xero_bench_${adminSecret}`;
  const projects = await withPgClient(databaseUrl, (client) =>
    client.query<{ id: string }>("SELECT id FROM projects WHERE slug = 'bench'"),
  );
  const routerKey = await fetchRouterKey(listening.http_url, adminKey, projects.rows[0]!.id);
  return {
    child,
    url: listening.http_url,
    meshEndpoint: listening.mesh_endpoint,
    metricsUrl: listening.metrics_url,
    adminKey,
    projectId: projects.rows[0]!.id,
    routerKey,
  };
}

async function fetchRouterKey(url: string, adminKey: string, projectId: string): Promise<string> {
  // The router's CURVE public key arrives with an enrollment; enroll one throw-away agent.
  const [agent] = await enrollBatch(url, adminKey, projectId, 1, 'probe');
  return agent!.routerKey;
}

async function enrollAgents(url: string, adminKey: string, projectId: string, count: number) {
  const agents: Awaited<ReturnType<typeof enrollBatch>> = [];
  for (let start = 0; start < count; start += 50)
    agents.push(...(await enrollBatch(url, adminKey, projectId, Math.min(50, count - start), `a${start}`)));
  return agents;
}

async function enrollBatch(url: string, adminKey: string, projectId: string, count: number, prefix: string) {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const minted = await post(
        `${url}/${projectId}/v1/management/join-keys`,
        { role: 'xem', name: 'bench' },
        adminKey,
      );
      const curve = generateCurveKeyPair();
      const signing = generateSigningKeyPair();
      const enrolled = await post(`${url}/v1/enroll`, {
        join_key: minted['key'],
        role: 'xem',
        registration_name: `${prefix}-${index}`,
        signing_public_key: Buffer.from(signing.publicKey).toString('hex'),
        curve_public_key: curve.publicKey,
      });
      return {
        agent_id: String(enrolled['agent_id']),
        curve,
        signing_seed: Buffer.from(signing.seed).toString('hex'),
        routerKey: String(enrolled['router_curve_public_key']),
      };
    }),
  );
}

async function post(url: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return (await response.json()) as Record<string, unknown>;
}

function startWorkers(
  endpoint: string,
  routerKey: string,
  agents: { agent_id: string; curve: { publicKey: string; secretKey: string }; signing_seed: string }[],
  workerCount: number,
  intervalMs: number,
) {
  const per = Math.ceil(agents.length / workerCount);
  return Array.from({ length: workerCount }, (_, index) => {
    const slice = agents.slice(index * per, (index + 1) * per);
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/bench/mesh-worker.ts')], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    // Over IPC, not the environment: thousands of agents' keys exceed the kernel's limit per variable.
    child.send({ endpoint, routerKey, intervalMs, agents: slice });
    const worker = { child, bound: 0, acks: 0 };
    child.on('message', (message: { bound: number; acks: number }) => Object.assign(worker, message));
    return worker;
  });
}

/** Waits for every agent to bind, saying every 10 s how far it got and what ZAP decided. */
async function waitFor(bound: () => number, count: number, timeoutMs: number, metricsUrl: string): Promise<void> {
  const started = Date.now();
  let said = started;
  while (bound() < count) {
    if (Date.now() - said >= 10_000) {
      said = Date.now();
      const zap = [
        ...(await (await fetch(metricsUrl)).text()).matchAll(
          /^xerotier_mesh_zap_decisions\{[^}]*decision="(\w+)"[^}]*\} (\d+)/gm,
        ),
      ].map((match) => `${match[1]}=${match[2]}`);
      process.stderr.write(
        `mesh bench: ${bound()}/${count} agents bound after ${Math.round((said - started) / 1_000)} s (zap ${zap.join(' ')})\n`,
      );
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`only ${bound()} of ${count} simulated agents bound in ${timeoutMs / 1_000} s`);
    // Polled: the workers' counts live in other processes.
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The router and its mesh gateway child: the router's cost is theirs together (Linux /proc). */
function routerProcesses(pid: number): number[] {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
  );
  return [pid, ...children];
}

/** User + system CPU time of the router's processes, in microseconds. */
function cpuMicros(pid: number): number {
  return routerProcesses(pid).reduce((sum, each) => {
    const fields = readFileSync(`/proc/${each}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return sum + ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  }, 0);
}

function rssKb(pid: number): number {
  return routerProcesses(pid).reduce(
    (sum, each) => sum + Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${each}/status`, 'utf8'))?.[1] ?? 0),
    0,
  );
}

// SIGTERM first, so the router drains (and writes its CPU profile when one was asked for).
async function stopGently(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function framesReceived(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return Number(/^xerotier_mesh_frames_received\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
}
