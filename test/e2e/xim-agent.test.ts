import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeFrame } from '../../services/protocol/frame.js';
import type { StreamEvent } from '../../services/router/inference/streams.js';
import { tenantSalt } from '../../services/protocol/cache-salt.js';
import { createScriptedEngine } from '../../services/xim-agent/scripted-engine/server.js';
import { bearer } from '../helpers/fixtures.js';
import { spawnXimAgent, waitFor, type Spawned } from '../helpers/processes.js';
import { startRouterHarness, type RouterHarness } from '../helpers/router-harness.js';

const MODEL = 'scripted/tiny';
const SALT_SECRET = 'salt-secret-for-tests';

describe('XIM agent process attached to the scripted engine', () => {
  let router: RouterHarness;
  let engine: Server;
  let agent: Spawned;
  let agentId: string;
  const dir = mkdtempSync(join(tmpdir(), 'xim-e2e-'));
  /** What the agent reported for each request, as the router's stream broker delivered it, frame by frame. */
  const frames = new Map<string, { type: string; body: Record<string, unknown> }[]>();
  const seenByEngine: Record<string, unknown>[] = [];
  const asFrame = (event: StreamEvent) =>
    event.kind === 'chunks'
      ? { type: 'infer.chunk', body: { seq: event.seq, chunks: event.chunks } }
      : event.kind === 'done'
        ? { type: 'infer.done', body: { ...(event.usage ? { usage: event.usage } : {}) } }
        : { type: 'infer.error', body: { code: event.code, message: event.message, retryable: event.retryable } };
  const ended = (id: string) =>
    waitFor(`the end of ${id}`, 15_000, () =>
      frames.get(id)?.some((frame) => frame.type === 'infer.done' || frame.type === 'infer.error')
        ? frames.get(id)
        : undefined,
    );
  const infer = (content: string, projectId = router.project.project.id) => {
    const id = `req_${randomUUID().replaceAll('-', '')}`;
    void router.inference.broker
      .open(agentId, {
        request_id: id,
        project_id: projectId,
        model: MODEL,
        request: { messages: [{ role: 'user', content }] },
      })
      .then(async (stream) => {
        for await (const event of stream) frames.set(id, [...(frames.get(id) ?? []), asFrame(event)]);
      });
    return id;
  };

  let joinKey: string;
  // Restarts pass the spent join key too, as a deployment would: the persisted enrollment wins.
  const startAgent = async () => {
    agent = spawnXimAgent({
      routerUrl: router.url,
      joinKey,
      name: 'xim-e2e',
      dir,
      engineUrl: `unix://${join(dir, 'vllm.sock')}`,
      env: { XEROTIER_AGENT_MAX_CONCURRENT: '2', XEROTIER_AGENT_VLLM_SALT_SECRET: SALT_SECRET },
    });
    return (await new Promise<{ agent_id: string }>((resolve) => agent.child.once('message', resolve))).agent_id;
  };

  beforeAll(async () => {
    router = await startRouterHarness({ leaseRenewalIntervalMs: 500 });
    engine = createScriptedEngine({ model: MODEL, tokensPerSecond: 40, observe: (body) => seenByEngine.push(body) });
    await new Promise<void>((resolve) => engine.listen(join(dir, 'vllm.sock'), resolve));
    joinKey = await router.mintJoinKey('xim');
    agentId = await startAgent();
    await waitFor("the manifest with the engine's model", 15_000, async () => {
      const row = (
        await router.pool.query<{ manifest: { models?: string[] } | null }>(
          'SELECT manifest FROM agents WHERE id = $1',
          [agentId],
        )
      ).rows[0];
      return row?.manifest?.models?.includes(MODEL) ? true : undefined;
    });
    await waitFor('the agent bound to the mesh', 10_000, () =>
      router.mesh.server.connections.routingOf(agentId) ? true : undefined,
    );
  }, 60_000);
  afterAll(async () => {
    if (agent && agent.child.exitCode === null) agent.child.kill('SIGKILL');
    await router?.close();
    await new Promise((resolve) => engine.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  // A case that stops the agent (SIGTERM) leaves the next one to start it again.
  beforeEach(async () => {
    if (agent.child.exitCode !== null || agent.child.signalCode !== null) {
      const stale = router.mesh.server.connections.routingOf(agentId);
      expect(await startAgent()).toBe(agentId);
      await waitFor('the agent bound again', 10_000, () => {
        const routing = router.mesh.server.connections.routingOf(agentId);
        return routing !== undefined && routing !== stale ? true : undefined;
      });
    }
  }, 30_000);

  it("streams the engine's chunks back in order, then the usage, salting the cache per project", async () => {
    const id = infer('What is a lease?');
    const got = await ended(id);
    const frames = got
      .filter((frame) => frame.type === 'infer.chunk')
      .map((frame) => frame.body as { seq: number; chunks: { choices?: { delta: { content?: string } }[] }[] });
    // Each frame numbers its first chunk: the numbers run on without gaps or overlaps.
    expect(frames.map((frame) => frame.seq)).toEqual(
      frames.map((_, index) => frames.slice(0, index).reduce((sum, earlier) => sum + earlier.chunks.length, 0)),
    );
    const chunks = frames.flatMap((frame) => frame.chunks);
    expect(chunks.flatMap((chunk) => (chunk.choices ?? []).map((choice) => choice.delta.content ?? '')).join('')).toBe(
      'This is a scripted answer to: "What is a lease?".',
    );
    expect(got.at(-1)).toMatchObject({ type: 'infer.done', body: { usage: { completion_tokens: 10 } } });
    expect(seenByEngine.at(-1)).toMatchObject({
      model: MODEL,
      stream: true,
      cache_salt: tenantSalt(SALT_SECRET, router.project.project.id),
    });
    await ended(infer('again', 'proj_other000000'));
    expect(seenByEngine.at(-1)!['cache_salt']).toBe(tenantSalt(SALT_SECRET, 'proj_other000000'));
    expect(seenByEngine.at(-1)!['cache_salt']).not.toBe(seenByEngine.at(-2)!['cache_salt']);
  });

  it('honours infer.cancel mid-stream, and refuses work past its slots as retryable', async () => {
    const long = infer('please tell me a long story about leases approvals audits and routers');
    await waitFor('a few chunks', 10_000, () => ((frames.get(long)?.length ?? 0) >= 3 ? true : undefined));
    void router.mesh.server.send(agentId, makeFrame('infer.cancel', { request_id: long, reason: 'client went away' }));
    expect((await ended(long)).at(-1)).toMatchObject({
      type: 'infer.error',
      body: { code: 'cancelled', retryable: false },
    });

    const [a, b, c] = [
      infer('one two three four five six'),
      infer('one two three four five six'),
      infer('one two three'),
    ];
    const third = await ended(c);
    expect(third.at(-1)).toMatchObject({ type: 'infer.error', body: { code: 'capacity_exhausted', retryable: true } });
    expect((await ended(a)).at(-1)!.type).toBe('infer.done');
    expect((await ended(b)).at(-1)!.type).toBe('infer.done');
  });

  it("lists an endpoint's models for inference keys, saying which are served now and which are scripted", async () => {
    const project = router.project.project.id;
    const created = await router.app.inject({
      method: 'POST',
      url: `/${project}/v1/management/endpoints`,
      headers: bearer(router.project.adminKey),
      payload: { slug: 'default', models: [MODEL, 'org/not-served'], service_tier: 'gpu_nvidia_shared' },
    });
    expect(created.statusCode).toBe(201);
    const inference = await router.project.keyWith(['inference']);
    const listed = await waitFor('the served model', 10_000, async () => {
      const body = (
        await router.app.inject({ url: `/${project}/default/v1/models`, headers: bearer(inference) })
      ).json() as { data: { id: string; available: boolean }[] };
      return body.data.find((model) => model.id === MODEL)?.available ? body : undefined;
    });
    expect(listed.data).toEqual([
      expect.objectContaining({
        id: MODEL,
        object: 'model',
        available: true,
        scripted: true,
        owned_by: 'xerotier-scripted',
      }),
      expect.objectContaining({ id: 'org/not-served', available: false, scripted: false }),
    ]);
    expect(
      (await router.app.inject({ url: `/${project}/nope/v1/models`, headers: bearer(inference) })).json(),
    ).toMatchObject({ error: { code: 'endpoint_not_found' } });
    const management = await router.project.keyWith(['management']);
    expect(
      (await router.app.inject({ url: `/${project}/default/v1/models`, headers: bearer(management) })).json(),
    ).toMatchObject({ error: { code: 'scope_insufficient' } });
    expect(
      (
        await router.app.inject({
          url: `/${project}/v1/management/endpoints/default`,
          headers: bearer(router.project.adminKey),
        })
      ).statusCode,
    ).toBe(200);
  });

  it('on SIGTERM with a stream in flight, lets it finish within the grace and exits 0', async () => {
    const inFlight = infer('a long answer about leases approvals audits routers fences and queues');
    await waitFor('the first chunks', 10_000, () => ((frames.get(inFlight)?.length ?? 0) >= 1 ? true : undefined));
    process.kill(agent.child.pid!, 'SIGTERM');
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    // Finished (done), or stopped at the grace and said so: never left open.
    expect(['infer.done', 'infer.error']).toContain((await ended(inFlight)).at(-1)!.type);
  });
});
