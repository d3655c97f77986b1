import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dealer, Router } from 'zeromq';
import { stringify } from 'yaml';
import { generateCurveKeyPair } from '../../services/protocol/curve-keys.js';
import { withPgClient } from '../helpers/pg-admin.js';
import { concurrently, stop, withBenchDatabase } from './harness.js';
import {
  cleanEnv,
  LOOPBACK_ROUTER_ENV,
  nextMessage,
  routerSecretsEnv,
  spawnRouterProcess,
  spawnXemAgent,
  type Spawned,
} from '../helpers/processes.js';
import { percentile, round, type Figures } from './report.js';
import { FINAL_STATES } from '../../services/router/exec/invocation-state.js';
import { runGraphilePeer } from './peer/graphile.js';

const C1_CALLS = Number(process.env['XEROTIER_BENCH_C1_CALLS'] ?? 400);
const C64_SECONDS = Number(process.env['XEROTIER_BENCH_C64_SECONDS'] ?? 10);
// XEROTIER_BENCH_PROFILE_DIR: the router and the agent write CPU profiles there.
const PROFILE = process.env['XEROTIER_BENCH_PROFILE_DIR']
  ? ['--cpu-prof', `--cpu-prof-dir=${process.env['XEROTIER_BENCH_PROFILE_DIR']}`]
  : [];

/**
 * `exec`: an invocation's round trip through a real router and XEM agent — HTTP in, stored,
 * dispatched over CURVE, run (a no-op `http` read tool against a local server, so no process
 * spawn hides the platform's cost), result stored, `succeeded` seen on the project's event
 * stream — at concurrency 1 and 64, with every transition durable and audited. The floor, in the
 * same run, is a bare CURVE ROUTER/DEALER round trip in this process; the peer, after it on the
 * same Postgres, is graphile-worker doing the closest equivalent (peer/graphile.ts).
 */
export async function runExecBench(): Promise<Figures> {
  return withBenchDatabase(async (databaseUrl) => {
    const dir = mkdtempSync(join(tmpdir(), 'xerotier-exec-bench-'));
    const processes: Spawned[] = [];
    const noop = await startNoopServer();
    try {
      const floor = await curveRoundTrips(2_000);
      const stack = await startStack(databaseUrl, dir, noop.port, processes);
      const events = openEventStream(stack.url, stack.key, stack.project);
      await events.ready;
      const call = () => invoke(stack, events);
      for (let index = 0; index < 50; index += 1) await call();
      const c1: number[] = [];
      const c1From = await auditPosition(databaseUrl);
      for (let index = 0; index < C1_CALLS; index += 1) c1.push(await call());
      const phases = await phaseMedians(databaseUrl, c1From, 'c1');
      const c64From = await auditPosition(databaseUrl);
      const c64 = await concurrently(64, C64_SECONDS * 1_000, call);
      const c64Phases = await phaseMedians(databaseUrl, c64From, 'c64');
      events.close();
      for (const run of processes.splice(0).reverse()) await stop(run);
      // The peer after ours, on the same database server, with nothing of ours running.
      const peer = await runGraphilePeer(databaseUrl, C1_CALLS, C64_SECONDS);
      const sortedFloor = floor.sort((a, b) => a - b);
      const sortedC1 = c1.sort((a, b) => a - b);
      const c64PerS = c64.completed / (c64.elapsedMs / 1_000);
      return {
        ...peer,
        c1_p50_vs_peer: round(percentile(sortedC1, 50) / Math.max(1e-9, peer['peer_c1_p50_ms']!), 2),
        c64_vs_peer: round(c64PerS / Math.max(1e-9, peer['peer_c64_per_s']!), 3),
        floor_p50_ms: round(percentile(sortedFloor, 50), 3),
        floor_p99_ms: round(percentile(sortedFloor, 99), 3),
        c1_p50_ms: round(percentile(sortedC1, 50)),
        c1_p99_ms: round(percentile(sortedC1, 99)),
        added_p50_ms: round(percentile(sortedC1, 50) - percentile(sortedFloor, 50)),
        c64_per_s: round(c64.completed / (c64.elapsedMs / 1_000)),
        c64_p99_ms: round(
          percentile(
            c64.latencies.sort((a, b) => a - b),
            99,
          ),
        ),
        c64_errors: c64.errors,
        ...phases,
        ...c64Phases,
      };
    } finally {
      for (const run of processes.reverse()) await stop(run);
      await new Promise((resolve) => noop.server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

export interface Stack {
  readonly url: string;
  readonly key: string;
  readonly project: string;
  readonly workspace: string;
  readonly metricsUrl: string;
}

/** A router process and a XEM agent serving the `noop` read tool (an HTTP call to `noopPort`). */
export async function startStack(
  databaseUrl: string,
  dir: string,
  noopPort: number,
  processes: Spawned[],
): Promise<Stack> {
  const secret = randomBytes(32).toString('base64url');
  const router = await spawnRouterProcess(
    cleanEnv({
      ...routerSecretsEnv(),
      ...LOOPBACK_ROUTER_ENV,
      XEROTIER_DATABASE_URL: databaseUrl,
      XEROTIER_LOG_LEVEL: 'warning',
      XEROTIER_DATABASE_POOL_MAX: '30',
      XEROTIER_BOOTSTRAP_PROJECT: 'bench',
      XEROTIER_BOOTSTRAP_ADMIN_KEY_SHA256: createHash('sha256').update(secret).digest('hex'),
      XEROTIER_API_RATE_LIMIT_RPM: '0',
      XEROTIER_EXEC_RATE_LIMIT_GLOBAL_RPM: '0',
      XEROTIER_EXEC_RATE_LIMIT_PROJECT_RPM: '0',
      XEROTIER_EXEC_RATE_LIMIT_WORKSPACE_RPM: '0',
      XEROTIER_EXEC_RATE_LIMIT_AGENT_RPM: '0',
    }),
    PROFILE,
  );
  processes.push(router.run);
  const base = { url: router.http_url, key: `xero_bench_${secret}`, project: 'bench' };
  const workspace = (
    (await request(base, 'GET', '/management/workspaces')) as { data: { id: string; is_default: boolean }[] }
  ).data.find((row) => row.is_default)!.id;
  const stack = { ...base, workspace, metricsUrl: router.metrics_url };
  mkdirSync(join(dir, 'tools', 'bench'), { recursive: true });
  writeFileSync(
    join(dir, 'tools', 'bench', 'bundle.yaml'),
    stringify({
      name: 'bench',
      version: '1',
      domain: 'bench',
      tools: [
        {
          name: 'noop',
          description: 'Do nothing',
          risk: 'read',
          timeout_ms: 10_000,
          parameters: { type: 'object', properties: { n: { type: 'integer' } }, additionalProperties: false },
          http: { base_url: `http://127.0.0.1:${noopPort}/`, method: 'GET', path: 'noop' },
        },
      ],
    }),
  );
  mkdirSync(join(dir, 'credentials', workspace), { recursive: true });
  const joinKey = (
    (await request(stack, 'POST', '/management/join-keys', { role: 'xem', name: 'bench' })) as { key: string }
  ).key;
  const agent = spawnXemAgent({
    routerUrl: stack.url,
    joinKey,
    name: 'xem-bench',
    dir,
    env: { XEM_MAX_CONCURRENT_EXECUTIONS: '128', XEROTIER_LOG_LEVEL: 'warning' },
    nodeArgs: PROFILE,
  });
  processes.push(agent);
  const { agent_id: agentId } = await nextMessage<{ agent_id: string }>(agent.child);
  await request(stack, 'POST', `/management/workspaces/${workspace}/bindings`, { agent_id: agentId });
  for (let tries = 0; ; tries += 1) {
    const tool = (await request(stack, 'GET', '/exec/tools/noop', undefined, true)) as { online_agents?: number };
    if (tool.online_agents === 1) break;
    if (tries > 100) throw new Error('the bench agent never came online');
    // Polled: the catalog is the only place that says the agent is online.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return stack;
}

export async function request(
  stack: Pick<Stack, 'url' | 'key' | 'project'>,
  method: string,
  path: string,
  body?: unknown,
  tolerate = false,
): Promise<unknown> {
  const response = await fetch(`${stack.url}/${stack.project}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!response.ok && !tolerate) throw new Error(`${method} ${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

/** One invocation; resolves with the milliseconds from sending the POST to seeing `succeeded`. */
async function invoke(stack: Stack, events: EventStream): Promise<number> {
  const started = performance.now();
  const created = (await request(stack, 'POST', '/exec/invocations', { tool: 'noop', args: {} })) as { id: string };
  const ended = await events.finished(created.id);
  if (ended.state !== 'succeeded') throw new Error(`${created.id} ended ${ended.state}`);
  return ended.at - started;
}

interface EventStream {
  readonly ready: Promise<void>;
  finished(id: string): Promise<{ state: string; at: number }>;
  close(): void;
}

const FINAL: ReadonlySet<string> = FINAL_STATES;

/** The project's SSE stream; ends are kept by id since one may arrive before its POST answers. */
function openEventStream(url: string, key: string, project: string): EventStream {
  const controller = new AbortController();
  const ended = new Map<string, { state: string; at: number }>();
  const waiting = new Map<string, (end: { state: string; at: number }) => void>();
  const pump = async (body: AsyncIterable<Uint8Array>) => {
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += Buffer.from(chunk).toString('utf8');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
          buffer = buffer.slice(end + 2);
          const event = data
            ? (JSON.parse(data) as { kind: string; invocation_id: string; state?: string })
            : undefined;
          if (event?.kind !== 'state' || !FINAL.has(event.state!)) continue;
          const record = { state: event.state!, at: performance.now() };
          const waiter = waiting.get(event.invocation_id);
          if (waiter) {
            waiting.delete(event.invocation_id);
            waiter(record);
          } else ended.set(event.invocation_id, record);
        }
      }
    } catch {
      // aborted at the end
    }
  };
  const ready = (async () => {
    const response = await fetch(`${url}/${project}/v1/exec/events`, {
      headers: { authorization: `Bearer ${key}` },
      signal: controller.signal,
    });
    if (!response.ok || !response.body) throw new Error(`event stream: HTTP ${response.status}`);
    void pump(response.body as unknown as AsyncIterable<Uint8Array>);
  })();
  return {
    ready,
    finished(id) {
      const done = ended.get(id);
      if (done) {
        ended.delete(id);
        return Promise.resolve(done);
      }
      return new Promise((resolve) => waiting.set(id, resolve));
    },
    close: () => controller.abort(),
  };
}

/** The floor: a message to a CURVE ROUTER and straight back, on loopback, in this process. */
async function curveRoundTrips(count: number): Promise<number[]> {
  const server = generateCurveKeyPair();
  const client = generateCurveKeyPair();
  const router = new Router({ curveServer: true, curveSecretKey: server.secretKey, linger: 0 });
  await router.bind('tcp://127.0.0.1:*');
  const dealer = new Dealer({
    curveServerKey: server.publicKey,
    curvePublicKey: client.publicKey,
    curveSecretKey: client.secretKey,
    linger: 0,
  });
  dealer.connect(router.lastEndpoint!);
  const echo = (async () => {
    for await (const [routing, payload] of router) await router.send([routing!, payload!]);
  })();
  const samples: number[] = [];
  const payload = Buffer.alloc(256, 1);
  for (let index = 0; index < count + 100; index += 1) {
    const started = performance.now();
    await dealer.send(payload);
    await dealer.receive();
    if (index >= 100) samples.push(performance.now() - started);
  }
  dealer.close();
  router.close();
  await echo.catch(() => undefined);
  return samples;
}

export async function startNoopServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((_request, response) => response.end('ok'));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

async function auditPosition(databaseUrl: string): Promise<string> {
  return withPgClient(
    databaseUrl,
    async (client) =>
      (await client.query<{ p: string }>('SELECT coalesce(max(position), 0)::text AS p FROM execution_audit_log'))
        .rows[0]!.p,
  );
}

/** Where a call spends its time, from the audit log's clock: p50 of each step in ms. */
async function phaseMedians(databaseUrl: string, fromPosition: string, label: string): Promise<Figures> {
  return withPgClient(databaseUrl, async (client) => {
    const found = await client.query<{ phase: string; p50: number }>(
      `WITH steps AS (
         SELECT subject, event, at, lag(at) OVER (PARTITION BY subject ORDER BY position) AS before, lag(event) OVER (PARTITION BY subject ORDER BY position) AS previous
           FROM execution_audit_log WHERE position > $1 AND event LIKE 'invocation.%')
       SELECT previous || '->' || event AS phase, percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM at - before) * 1000) AS p50
         FROM steps WHERE before IS NOT NULL GROUP BY 1`,
      [fromPosition],
    );
    return Object.fromEntries(
      found.rows.map((row) => [
        `${label}_step_${row.phase.replaceAll('invocation.', '').replace('->', '_to_')}_p50_ms`,
        round(row.p50, 3),
      ]),
    );
  });
}
