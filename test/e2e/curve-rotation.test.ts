import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { generateCurveKeyPair } from '../../services/protocol/curve-keys.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { bearer } from '../helpers/fixtures.js';
import {
  cleanEnv,
  nextMessage,
  routerSecretsEnv,
  spawnRouterProcess,
  spawnXemAgent,
  spawnXimAgent,
  startScriptedEngine,
  waitFor,
  type Spawned,
  acmeBootstrapEnv,
} from '../helpers/processes.js';
import { commandTool } from '../helpers/bundles.js';
import { freePort } from '../helpers/embedded-server.js';

const MODEL = 'scripted/rotation';
const BUNDLE = {
  name: 'slow',
  version: '1',
  domain: 'test',
  tools: [
    commandTool('tick', 'read', ['sh', '-c', 'echo tick; sleep 2; echo tock'], { description: 'Print, sleep, print' }),
  ],
};

/**
 * Rotating the router's CURVE key without stranding an agent or losing work: two router replicas
 * are restarted serving the next key beside the current one (router 0 announcing the replica's
 * endpoint, as a shared load balancer would send its agents there); agents reconnect on the current key;
 * `curve-rotate` moves the live ones (they fetch the key over HTTPS and reconnect) while a stream
 * and an exec call run, and an agent that was stopped meanwhile comes back on the next key by
 * itself. Real router, XEM and XIM agent processes on fixed ports.
 */
describe('a CURVE key rotation', () => {
  let db: TestDatabase;
  let dir: string;
  type RouterProcess = { run: Spawned; http_url: string; metrics_url: string };
  let router: RouterProcess;
  // A second replica on the same database, holding an agent of its own.
  let replica: RouterProcess;
  let replicaEnv: NodeJS.ProcessEnv;
  const runs: Spawned[] = [];
  const agents = new Map<string, Spawned>();
  const secret = randomBytes(32).toString('base64url');
  const key = `xero_acme_${secret}`;
  const next = generateCurveKeyPair();
  let env: NodeJS.ProcessEnv;
  let workspace: string;

  const api = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${router.http_url}/acme/v1${path}`, {
      ...init,
      headers: { ...bearer(key), 'content-type': 'application/json', ...init.headers },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const onNextKey = async (target: RouterProcess = router) => {
    const text = await (await fetch(target.metrics_url)).text();
    const line = text.split('\n').find((row) => row.startsWith('xerotier_mesh_agents_on_next_key{'));
    return Number(line?.split(' ').at(-1) ?? 0);
  };
  const stop = async (target: RouterProcess) => {
    process.kill(-target.run.child.pid!, 'SIGTERM');
    await target.run.exited;
  };
  const startXem = (name: string, joinKey: string, via: RouterProcess = router) => {
    const home = join(dir, name);
    mkdirSync(join(home, 'tools', 'slow'), { recursive: true });
    writeFileSync(join(home, 'tools', 'slow', 'bundle.yaml'), stringify(BUNDLE));
    mkdirSync(join(home, 'credentials', workspace), { recursive: true });
    const agent = spawnXemAgent({ routerUrl: via.http_url, joinKey, name, dir: home });
    agents.set(name, agent);
    runs.push(agent);
    return agent;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'curve-rotation-'));
    const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    const [http, mesh, nextMesh, replicaHttp, replicaMesh, replicaNextMesh] = ports;
    env = cleanEnv({
      ...routerSecretsEnv(),
      XEROTIER_DATABASE_URL: db.url,
      XEROTIER_HTTP_HOST: '127.0.0.1',
      XEROTIER_HTTP_PORT: String(http),
      XEROTIER_ROUTER_METRICS_HOST: '127.0.0.1',
      XEROTIER_ROUTER_METRICS_PORT: '0',
      XEROTIER_MESH_BIND: `tcp://127.0.0.1:${mesh}`,
      ...acmeBootstrapEnv(secret),
      XEROTIER_API_RATE_LIMIT_RPM: '0',
      XEROTIER_ROUTER_LEASE_RENEWAL_INTERVAL_MS: '500',
      XEROTIER_ROUTER_HEARTBEAT_TIMEOUT_MS: '2000',
      XEROTIER_LOG_LEVEL: 'warning',
    });
    router = await spawnRouterProcess(env);
    replicaEnv = {
      ...env,
      XEROTIER_HTTP_PORT: String(replicaHttp),
      XEROTIER_MESH_BIND: `tcp://127.0.0.1:${replicaMesh}`,
    };
    replica = await spawnRouterProcess(replicaEnv);
    workspace = ((await api('/management/workspaces')).body['data'] as { id: string; is_default: boolean }[]).find(
      (row) => row.is_default,
    )!.id;
    const xemKey = async (name: string) =>
      String(
        (await api('/management/join-keys', { method: 'POST', body: JSON.stringify({ role: 'xem', name }) })).body[
          'key'
        ],
      );
    for (const name of ['xem-live', 'xem-stopped']) {
      const agent = startXem(name, await xemKey(name));
      const { agent_id: agentId } = await nextMessage<{ agent_id: string }>(agent.child);
      expect(
        (
          await api(`/management/workspaces/${workspace}/bindings`, {
            method: 'POST',
            body: JSON.stringify({ agent_id: agentId }),
          })
        ).status,
      ).toBe(201);
    }
    // Not bound to the workspace: it only shows that every replica moves its own agents.
    await nextMessage(startXem('xem-replica', await xemKey('xem-replica'), replica).child);
    const socket = join(dir, 'engine.sock');
    runs.push(await startScriptedEngine(MODEL, socket, ['--tokens-per-second', '20']));
    const ximKey = (
      await api('/management/join-keys', { method: 'POST', body: JSON.stringify({ role: 'xim', name: 'gpu' }) })
    ).body['key'];
    mkdirSync(join(dir, 'gpu'));
    const xim = spawnXimAgent({
      routerUrl: router.http_url,
      joinKey: String(ximKey),
      name: 'gpu',
      dir: join(dir, 'gpu'),
      engineUrl: `unix://${socket}`,
    });
    runs.push(xim);
    await nextMessage(xim.child);
    expect(
      (
        await api('/management/endpoints', {
          method: 'POST',
          body: JSON.stringify({ slug: 'default', models: [MODEL], service_tier: 'self_hosted' }),
        })
      ).status,
    ).toBe(201);
    // Step 1 of the procedure: the routers restart serving the next key beside the current one.
    await stop(router);
    await stop(replica);
    router = await spawnRouterProcess({
      ...env,
      XEROTIER_ROUTER_CURVE_SECRET_KEY_NEXT: next.secretKey,
      XEROTIER_MESH_NEXT_BIND: `tcp://127.0.0.1:${nextMesh}`,
      // As behind a shared load balancer: router 0's agents reconnect to the other replica.
      XEROTIER_MESH_NEXT_PUBLIC_ENDPOINT: `tcp://127.0.0.1:${replicaNextMesh}`,
    });
    replica = await spawnRouterProcess({
      ...replicaEnv,
      XEROTIER_ROUTER_CURVE_SECRET_KEY_NEXT: next.secretKey,
      XEROTIER_MESH_NEXT_BIND: `tcp://127.0.0.1:${replicaNextMesh}`,
    });
    await waitFor('the XEM agents back on the current key', 30_000, async () => {
      const online = (await api('/exec/tools/tick')).body['online_agents'];
      return online === 2 || undefined;
    });
    await waitFor('the model served again', 30_000, () =>
      new OpenAI({ apiKey: key, baseURL: `${router.http_url}/acme/default/v1`, maxRetries: 0 }).responses
        .create({ model: MODEL, input: 'hi' })
        .then(
          () => true,
          () => undefined,
        ),
    );
    await waitFor('the replica holding its agent again', 30_000, async () => {
      const text = await (await fetch(replica.metrics_url)).text();
      return /^xerotier_mesh_agents_bound\{[^}]*\} 1$/m.test(text) || undefined;
    });
    expect([await onNextKey(), await onNextKey(replica)]).toEqual([0, 0]);
  }, 180_000);
  afterAll(async () => {
    const all = [...runs, router?.run, replica?.run].filter((run): run is Spawned => run !== undefined);
    for (const run of all)
      if (run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid!, 'SIGKILL');
    await Promise.all(all.map((run) => run.exited));
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('moves live agents to the next key while a stream and an exec call run, losing neither; a stopped agent comes back on it', async () => {
    const stopped = agents.get('xem-stopped')!;
    process.kill(-stopped.child.pid!, 'SIGTERM');
    await stopped.exited;
    await waitFor('the stopped agent offline', 10_000, async () =>
      (await api('/exec/tools/tick')).body['online_agents'] === 1 ? true : undefined,
    );
    const call = await api('/exec/invocations', { method: 'POST', body: JSON.stringify({ tool: 'tick', args: {} }) });
    expect(call.status).toBe(201);
    const stream = await new OpenAI({
      apiKey: key,
      baseURL: `${router.http_url}/acme/default/v1`,
      maxRetries: 0,
    }).responses.create({ model: MODEL, input: 'count to 60', stream: true });
    const events = stream[Symbol.asyncIterator]();
    let text = '';
    while (text === '') {
      const event = (await events.next()).value;
      if (event?.type === 'response.output_text.delta') text += event.delta;
    }
    await waitFor(
      'the call running',
      10_000,
      async () => (await api(`/exec/invocations/${String(call.body['id'])}`)).body['state'] === 'running' || undefined,
    );

    const rotation = await api('/management/agents/curve-rotate', { method: 'POST', body: '{}' });
    expect(rotation).toMatchObject({
      status: 202,
      body: { object: 'curve_rotation', router_curve_public_key: next.publicKey },
    });
    // Router 0's two live agents and the replica's own, all now connected to the replica.
    await waitFor('every live agent on the next key', 20_000, async () =>
      (await onNextKey(replica)) === 3 ? true : undefined,
    );
    expect(await onNextKey()).toBe(0);

    let status: string | undefined;
    for (let event = await events.next(); !event.done; event = await events.next()) {
      if (event.value.type === 'response.output_text.delta') text += event.value.delta;
      if (event.value.type === 'response.completed') status = event.value.response.status;
    }
    expect(status).toBe('completed');
    expect(text.trim().split(/\s+/)).toEqual(Array.from({ length: 60 }, (_, index) => String(index + 1)));
    const finished = await waitFor('the call finished', 20_000, async () => {
      const state = (await api(`/exec/invocations/${String(call.body['id'])}`)).body;
      return ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(String(state['state'])) ? state : undefined;
    });
    expect(finished['state']).toBe('succeeded');
    // Router 0 holds no agent now: a new request through it is served by the replica holding the XIM agent.
    const forwarded = await waitFor('router 0 serving through the replica', 20_000, () =>
      new OpenAI({ apiKey: key, baseURL: `${router.http_url}/acme/default/v1`, maxRetries: 0 }).responses
        .create({ model: MODEL, input: 'count to 3' })
        .then(
          (answer) => answer,
          () => undefined,
        ),
    );
    expect(forwarded.output_text).toBe('1 2 3');

    // Kept stopped across the rotation: on start it refreshes, is told the next key, and binds there.
    const back = spawnXemAgent({
      routerUrl: router.http_url,
      joinKey: 'spent',
      name: 'xem-stopped',
      dir: join(dir, 'xem-stopped'),
    });
    runs.push(back);
    await nextMessage(back.child);
    await waitFor('the stopped agent on the next key', 20_000, async () =>
      (await onNextKey(replica)) === 4 ? true : undefined,
    );
    const again = await api('/exec/invocations', { method: 'POST', body: JSON.stringify({ tool: 'tick', args: {} }) });
    expect(again.status).toBe(201);
    await waitFor(
      'a call after the rotation finished',
      20_000,
      async () =>
        (await api(`/exec/invocations/${String(again.body['id'])}`)).body['state'] === 'succeeded' || undefined,
    );
  });

  it('refuses a rotation when the router serves no next key', async () => {
    const plain = await spawnRouterProcess({
      ...env,
      XEROTIER_HTTP_PORT: '0',
      XEROTIER_MESH_BIND: 'tcp://127.0.0.1:*',
    });
    runs.push(plain.run);
    const response = await fetch(`${plain.http_url}/acme/v1/management/agents/curve-rotate`, {
      method: 'POST',
      headers: { ...bearer(key), 'content-type': 'application/json' },
      body: '{}',
    });
    expect([response.status, ((await response.json()) as { error: { code: string } }).error.code]).toEqual([
      409,
      'curve_rotation_not_configured',
    ]);
  });
});
