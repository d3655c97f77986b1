import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { execClient } from '../helpers/exec-client.js';
import { seedProject, type SeededProject } from '../helpers/fixtures.js';
import { spawnXimAgent, startScriptedEngine, waitFor, type Spawned } from '../helpers/processes.js';
import { startRouterHarness, type RouterHarness } from '../helpers/router-harness.js';

const MODEL = 'scripted/fleet';

/**
 * One GPU fleet for many projects: a XIM agent enrolled with a platform-scope key (minted in the
 * platform project) serves a tenant's endpoints; the tenant's own agent serves it too; each
 * agent serves only the tiers it publishes. Real router, engine and agent processes.
 */
describe('a shared GPU fleet', () => {
  let router: RouterHarness;
  let tenant: SeededProject;
  let dir: string;
  const runs: Spawned[] = [];
  const platformApi = () => execClient(router.app, router.project.project.id);
  const tenantApi = () => execClient(router.app, tenant.project.id);
  const ask = (project: string, key: string, slug: string) =>
    new OpenAI({ apiKey: key, baseURL: `${router.url}/${project}/${slug}/v1`, maxRetries: 0 }).responses.create({
      model: MODEL,
      input: 'hello fleet',
    });
  const startAgent = async (name: string, joinKey: string, tiers: string) => {
    const home = join(dir, name);
    mkdirSync(home, { recursive: true });
    const socket = join(home, 'engine.sock');
    runs.push(await startScriptedEngine(MODEL, socket));
    const agent = spawnXimAgent({
      routerUrl: router.url,
      joinKey,
      name,
      dir: home,
      engineUrl: `unix://${socket}`,
      env: { XEROTIER_AGENT_SERVICE_TIERS: tiers },
    });
    runs.push(agent);
    return agent;
  };

  beforeAll(async () => {
    // The harness's own project (acme) is the platform's.
    router = await startRouterHarness({ leaseRenewalIntervalMs: 500, env: { XEROTIER_PLATFORM_PROJECT: 'acme' } });
    tenant = await seedProject(router.pool, 'tenant');
    dir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'fleet-e2e-'));
  }, 60_000);
  afterAll(async () => {
    for (const run of runs) if (run.child.exitCode === null) process.kill(-run.child.pid!, 'SIGKILL');
    await Promise.all(runs.map((run) => run.exited));
    await router?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('mints platform-scope keys only in the platform project, only for XIM agents', async () => {
    const tenantTry = await tenantApi().call('POST', '/management/join-keys', tenant.adminKey, {
      role: 'xim',
      name: 'gpu',
      scope: 'platform',
    });
    expect([tenantTry.status, (tenantTry.body['error'] as { code: string }).code]).toEqual([
      403,
      'platform_scope_not_allowed',
    ]);
    const xem = await platformApi().call('POST', '/management/join-keys', router.project.adminKey, {
      role: 'xem',
      name: 'db',
      scope: 'platform',
    });
    expect([xem.status, (xem.body['error'] as { param: string }).param]).toEqual([403, 'scope']);
  });

  it("serves a tenant's endpoint from the platform's agent, which the tenant can neither see nor steer", async () => {
    const minted = await platformApi().call('POST', '/management/join-keys', router.project.adminKey, {
      role: 'xim',
      name: 'gpu-a',
      scope: 'platform',
    });
    expect(minted.body).toMatchObject({ scope: 'platform', role: 'xim' });
    const agent = await startAgent('gpu-a', String(minted.body['key']), 'self_hosted');
    const { agent_id: agentId } = await new Promise<{ agent_id: string }>((resolve) =>
      agent.child.once('message', resolve),
    );
    for (const [api, key] of [
      [tenantApi(), tenant.adminKey],
      [platformApi(), router.project.adminKey],
    ] as const)
      expect(
        (
          await api.call('POST', '/management/endpoints', key, {
            slug: 'default',
            models: [MODEL],
            service_tier: 'self_hosted',
          })
        ).status,
      ).toBe(201);
    await waitFor('the model served to the tenant', 30_000, async () => {
      const models = await new OpenAI({
        apiKey: tenant.adminKey,
        baseURL: `${router.url}/${tenant.project.id}/default/v1`,
        maxRetries: 0,
      }).models.list();
      return models.data.some((model) => (model as unknown as { available: boolean }).available) || undefined;
    });
    const answer = await ask(tenant.project.id, tenant.adminKey, 'default');
    expect(answer.status).toBe('completed');
    expect((await ask(router.project.project.id, router.project.adminKey, 'default')).status).toBe('completed');
    // The agent belongs to the platform project: the tenant's API knows nothing of it.
    const listed = await tenantApi().call('GET', '/management/agents', tenant.adminKey);
    expect((listed.body['data'] as { id: string }[]).map((row) => row.id)).not.toContain(agentId);
    expect(
      (await tenantApi().call('POST', `/management/agents/${agentId}/revoke-credentials`, tenant.adminKey)).status,
    ).toBe(404);
    const own = await platformApi().call('GET', `/management/agents/${agentId}`, router.project.adminKey);
    expect(own.body).toMatchObject({ scope: 'platform', role: 'xim', status: 'active' });
  });

  it('routes an endpoint only to agents publishing its tier: none, then the tenant’s own', async () => {
    expect(
      (
        await tenantApi().call('POST', '/management/endpoints', tenant.adminKey, {
          slug: 'gpu',
          models: [MODEL],
          service_tier: 'gpu_nvidia_shared',
        })
      ).status,
    ).toBe(201);
    // The platform agent serves the model, but only at self_hosted.
    await expect(ask(tenant.project.id, tenant.adminKey, 'gpu')).rejects.toMatchObject({ status: 503 });
    const joinKey = await tenantApi().call('POST', '/management/join-keys', tenant.adminKey, {
      role: 'xim',
      name: 'tenant-gpu',
    });
    await startAgent('tenant-gpu', String(joinKey.body['key']), 'gpu_nvidia_shared');
    const served = await waitFor('the tenant agent serving its tier', 30_000, async () =>
      ask(tenant.project.id, tenant.adminKey, 'gpu').then(
        (response) => response,
        () => undefined,
      ),
    );
    expect(served.status).toBe('completed');
    // And the platform project, which has no agent of that tier and may not use the tenant's, still cannot.
    expect(
      (
        await platformApi().call('POST', '/management/endpoints', router.project.adminKey, {
          slug: 'gpu',
          models: [MODEL],
          service_tier: 'gpu_nvidia_shared',
        })
      ).status,
    ).toBe(201);
    await expect(ask(router.project.project.id, router.project.adminKey, 'gpu')).rejects.toMatchObject({ status: 503 });
  });
});
