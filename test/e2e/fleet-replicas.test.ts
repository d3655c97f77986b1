import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { createReplicaAuth, REPLICA_SIGNATURE_HEADER } from '../../services/router/fleet/replica-auth.js';
import { FORWARD_CONTENT_TYPE, FORWARD_PATH } from '../../services/router/fleet/forward-client.js';
import { createPool, type Pool } from '../../services/router/store/pool.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { bearer, seedProject, type SeededProject } from '../helpers/fixtures.js';
import { silentLogger } from '../helpers/logger.js';
import {
  cleanEnv,
  LOOPBACK_ROUTER_ENV,
  nextMessage,
  routerSecretsEnv,
  spawnRouterProcess,
  spawnXimAgent,
  startScriptedEngine,
  waitFor,
  type Spawned,
  acmeBootstrapEnv,
} from '../helpers/processes.js';

const MODEL = 'scripted/replicas';
// Long shared instructions: ~19 cacheable blocks, so affinity shows as cached tokens.
const instructions = (topic: string) => `You answer questions about ${topic}. `.repeat(40);

/**
 * Three router processes on one database, one GPU fleet: a platform-scope XIM agent connected to
 * router 0 serves two projects, the tenant's own agent is connected to router 1, router 2 holds
 * none. Every request through every router is served (forwarded to the replica holding the
 * chosen agent), and prefix affinity holds across replicas (placements are shared), as the
 * engines' cached tokens show. Real routers, agents and engines; the forwarding endpoint is
 * attacked with forged, altered and replayed signatures.
 */
describe('three router replicas serving one fleet', () => {
  let db: TestDatabase;
  let pool: Pool;
  let tenant: SeededProject;
  let dir: string;
  const routers: { run: Spawned; http_url: string; metrics_url: string }[] = [];
  const runs: Spawned[] = [];
  const agents: { id: string; metricsUrl: string }[] = [];
  const secrets = routerSecretsEnv();
  const secret = randomBytes(32).toString('base64url');
  const acmeKey = `xero_acme_${secret}`;
  const projects = () => [
    { id: 'acme', key: acmeKey },
    { id: tenant.project.id, key: tenant.adminKey },
  ];
  const client = (router: number, project: { id: string; key: string }) =>
    new OpenAI({
      apiKey: project.key,
      baseURL: `${routers[router]!.http_url}/${project.id}/default/v1`,
      maxRetries: 0,
    });
  const api = async (router: number, project: string, key: string, path: string, body: unknown) => {
    const response = await fetch(`${routers[router]!.http_url}/${project}/v1${path}`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await response.json()) as Record<string, unknown>;
  };
  /** A metric's value by name and one label (every line also carries the service label). */
  const metric = async (url: string, name: string, label = '') => {
    const text = await (await fetch(url)).text();
    const line = text.split('\n').find((row) => row.startsWith(`${name}{`) && row.includes(label));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  // Remote agents' loads come from heartbeats, a renewal late: wait until they show no stream.
  const heartbeatsIdle = () =>
    waitFor('the heartbeats showing both agents idle', 10_000, async () => {
      const loads = await pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM agents WHERE role = 'xim' AND status = 'active' AND (lease_load->>'in_use')::int = 0",
      );
      return loads.rows[0]!.n === 2 || undefined;
    });
  const lastUsage = async () =>
    (await pool.query<{ id: string | null }>('SELECT max(id)::text AS id FROM inference_usage')).rows[0]!.id ?? '0';
  const startAgent = async (name: string, router: number, joinKey: string) => {
    const home = join(dir, name);
    mkdirSync(home, { recursive: true });
    const socket = join(home, 'engine.sock');
    runs.push(await startScriptedEngine(MODEL, socket, ['--tokens-per-second', '40']));
    const agent = spawnXimAgent({
      routerUrl: routers[router]!.http_url,
      joinKey,
      name,
      dir: home,
      engineUrl: `unix://${socket}`,
      // Few slots: one running stream is a load the scheduler weighs well above KV noise.
      env: { XEROTIER_AGENT_MAX_CONCURRENT: '16' },
    });
    runs.push(agent);
    const ready = await nextMessage<{ agent_id: string; metrics_url: string }>(agent.child);
    agents.push({ id: ready.agent_id, metricsUrl: ready.metrics_url });
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 2, logger: silentLogger() });
    dir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'replicas-e2e-'));
    const env = cleanEnv({
      ...secrets,
      ...LOOPBACK_ROUTER_ENV,
      XEROTIER_DATABASE_URL: db.url,
      ...acmeBootstrapEnv(secret),
      XEROTIER_API_RATE_LIMIT_RPM: '0',
      XEROTIER_ROUTER_LEASE_RENEWAL_INTERVAL_MS: '500',
      XEROTIER_LOG_LEVEL: 'warning',
    });
    for (let index = 0; index < 3; index += 1) routers.push(await spawnRouterProcess(env));
    tenant = await seedProject(pool, 'tenant');
    const shared = await api(0, 'acme', acmeKey, '/management/join-keys', {
      role: 'xim',
      name: 'gpu',
      scope: 'platform',
    });
    await startAgent('gpu-shared', 0, String(shared['key']));
    const own = await api(1, tenant.project.id, tenant.adminKey, '/management/join-keys', { role: 'xim', name: 'own' });
    await startAgent('gpu-tenant', 1, String(own['key']));
    for (const project of projects())
      expect(
        await api(0, project.id, project.key, '/management/endpoints', {
          slug: 'default',
          models: [MODEL],
          service_tier: 'self_hosted',
        }),
      ).toMatchObject({ slug: 'default' });
    // Each router lists the other replicas' agents once their heartbeats name the holder.
    for (let router = 0; router < 3; router += 1)
      for (const project of projects())
        await waitFor(`router ${router} serving ${project.id}`, 30_000, () =>
          client(router, project)
            .responses.create({ model: MODEL, input: 'warm up' })
            .then(
              (answer) => answer.status === 'completed' || undefined,
              (error: unknown) => void console.log(String(error)),
            ),
        );
  }, 180_000);
  afterAll(async () => {
    for (const run of [...runs, ...routers.map((router) => router.run)])
      if (run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid!, 'SIGKILL');
    await Promise.all([...runs, ...routers.map((router) => router.run)].map((run) => run.exited));
    await pool?.end();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves every request of both projects through every router, streaming or not, even the one holding no agent', async () => {
    const asked = [0, 1, 2].flatMap((router) =>
      projects().flatMap((project) =>
        [false, true].map(async (stream) => {
          if (!stream) return (await client(router, project).responses.create({ model: MODEL, input: 'hi' })).status;
          let status: string | undefined;
          for await (const event of await client(router, project).responses.create({
            model: MODEL,
            input: 'count to 5',
            stream: true,
          }))
            if (event.type === 'response.completed') status = event.response.status;
          return status;
        }),
      ),
    );
    expect(await Promise.all(asked)).toEqual(Array.from({ length: 12 }, () => 'completed'));
    // Router 2 holds no agent: all it served it handed on; the holders took them.
    expect(
      await metric(routers[2]!.metrics_url, 'xerotier_fleet_streams_forwarded_total', 'direction="out"'),
    ).toBeGreaterThan(0);
    expect(await metric(routers[2]!.metrics_url, 'xerotier_fleet_streams_forwarded_total', 'direction="in"')).toBe(0);
    expect(
      await metric(routers[0]!.metrics_url, 'xerotier_fleet_streams_forwarded_total', 'direction="in"'),
    ).toBeGreaterThan(0);
  });

  it('keeps prefix affinity across replicas: a prompt placed through one router is found cached through the others', async () => {
    const project = projects()[1]!;
    const heard = () =>
      Promise.all(
        [1, 2].map((router) =>
          metric(routers[router]!.metrics_url, 'xerotier_fleet_placements_total', 'direction="heard"'),
        ),
      );
    // Two prompts at once through router 0, until they land on different agents (the second
    // usually avoids the agent busy with the first; placements other replicas made lately count
    // as load too, so an attempt may not split them).
    let topics: [string, string] | undefined;
    for (let attempt = 0; attempt < 5 && !topics; attempt += 1) {
      const pair: [string, string] = [`tides ${attempt}`, `comets ${attempt}`];
      const before = await heard();
      const marker = await lastUsage();
      await heartbeatsIdle();
      const first = await client(0, project).responses.create({
        model: MODEL,
        instructions: instructions(pair[0]),
        input: 'count to 40',
        stream: true,
      });
      const firstEvents = first[Symbol.asyncIterator]();
      // The first token: the stream runs on its agent now (response.created comes before placement).
      while ((await firstEvents.next()).value?.type !== 'response.output_text.delta');
      const second = await client(0, project).responses.create({
        model: MODEL,
        instructions: instructions(pair[1]),
        input: 'count to 40',
      });
      expect(second.status).toBe('completed');
      while (!(await firstEvents.next()).done);
      await waitFor(
        'routers 1 and 2 heard both placements',
        10_000,
        async () => (await heard()).every((count, index) => count >= before[index]! + 2) || undefined,
      );
      const placed = await pool.query<{ agents: number }>(
        'SELECT count(DISTINCT agent_id)::int AS agents FROM inference_usage WHERE id > $1',
        [marker],
      );
      if (placed.rows[0]!.agents === 2) topics = pair;
    }
    expect(topics, 'two prompts placed on two agents').toBeDefined();
    // Idle now: without shared placements both prompts would go to the same (first-sorted) agent.
    await heartbeatsIdle();
    for (const router of [1, 2])
      for (const topic of topics!) {
        const again = await client(router, project).responses.create({
          model: MODEL,
          instructions: instructions(topic),
          input: 'count to 40',
        });
        expect(again.usage?.input_tokens_details.cached_tokens, `${topic} through router ${router}`).toBeGreaterThan(
          200,
        );
      }
    // Both agents' engines report the hits (each holds one of the prompts).
    for (const agent of agents)
      await waitFor(
        `agent ${agent.id} reporting prefix-cache hits`,
        10_000,
        async () => (await metric(agent.metricsUrl, 'xerotier_xim_engine_prefix_cache_hits')) > 0 || undefined,
      );
  });

  it('refuses forwarded inference that is unsigned, signed with another key, altered or replayed', async () => {
    const url = `${routers[0]!.http_url}${FORWARD_PATH}`;
    const body = JSON.stringify({
      agent_id: agents[0]!.id,
      request: {
        request_id: `inf_${randomBytes(12).toString('hex')}`,
        project_id: tenant.project.id,
        model: MODEL,
        request: { model: MODEL, messages: [{ role: 'user', content: 'hi' }] },
      },
    });
    const post = (payload: string, signature?: string) =>
      fetch(url, {
        method: 'POST',
        headers: {
          'content-type': FORWARD_CONTENT_TYPE,
          ...(signature ? { [REPLICA_SIGNATURE_HEADER]: signature } : {}),
        },
        body: payload,
      });
    const refusal = async (response: Promise<Response>) => {
      const answered = await response;
      return [answered.status, ((await answered.json()) as { error: { code: string } }).error.code];
    };
    expect(await refusal(post(body))).toEqual([401, 'replica_unauthorized']);
    const stranger = createReplicaAuth(randomBytes(32).toString('hex'));
    expect(await refusal(post(body, stranger.sign(body, Date.now())))).toEqual([401, 'replica_unauthorized']);
    // A replica's own signature (the test holds the deployment's secrets), on a changed body, then twice.
    const replica = createReplicaAuth(secrets['XEROTIER_TOKEN_SIGNING_KEY']!);
    const signature = replica.sign(body, Date.now());
    expect(await refusal(post(body.replace('"hi"', '"leak the other tenant"'), signature))).toEqual([
      401,
      'replica_unauthorized',
    ]);
    const genuine = await post(body, signature);
    expect(genuine.status).toBe(200);
    expect(await genuine.text()).toContain('"kind":"done"');
    expect(await refusal(post(body, signature))).toEqual([401, 'replica_unauthorized']);
  });
});
