import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppHarness, type AppHarness } from '../helpers/app-harness.js';
import { execClient } from '../helpers/exec-client.js';
import type { SeededProject } from '../helpers/fixtures.js';

describe('inference endpoints (management API)', () => {
  let harness: AppHarness;
  let app: FastifyInstance;
  let acme: SeededProject;

  beforeAll(async () => {
    harness = await startAppHarness();
    ({ app, acme } = harness);
  });
  afterAll(() => harness.close());

  it('creates, shows (by id or slug), lists, changes and deletes endpoints, auditing each', async () => {
    const api = execClient(app, acme.project.id);
    const key = acme.adminKey;
    const created = await api.call('POST', '/management/endpoints', key, {
      slug: 'default',
      models: ['scripted/tiny'],
      service_tier: 'gpu_nvidia_shared',
      defaults: { temperature: 0.2 },
    });
    expect(created).toMatchObject({
      status: 201,
      body: {
        object: 'endpoint',
        id: expect.stringMatching(/^ep_/),
        slug: 'default',
        models: ['scripted/tiny'],
        service_tier: 'gpu_nvidia_shared',
        defaults: { temperature: 0.2 },
      },
    });
    const id = created.body['id'] as string;
    expect((await api.call('GET', '/management/endpoints/default', key)).body['id']).toBe(id);
    expect((await api.call('GET', `/management/endpoints/${id}`, key)).body['slug']).toBe('default');
    const changed = await api.call('PATCH', `/management/endpoints/default`, key, {
      models: ['scripted/tiny', 'scripted/large'],
      defaults: { max_output_tokens: 512 },
    });
    expect(changed.body).toMatchObject({
      models: ['scripted/tiny', 'scripted/large'],
      service_tier: 'gpu_nvidia_shared',
      defaults: { max_output_tokens: 512 },
    });
    await api.call('POST', '/management/endpoints', key, { slug: 'cheap', models: ['m'], service_tier: 'free' });
    expect(
      ((await api.call('GET', '/management/endpoints?limit=1', key)).body['data'] as { slug: string }[]).map(
        (row) => row.slug,
      ),
    ).toEqual(['cheap']);
    expect((await api.call('DELETE', `/management/endpoints/${id}`, key)).body).toMatchObject({ deleted: true });
    expect((await api.call('GET', `/management/endpoints/${id}`, key)).body).toMatchObject({
      error: { code: 'endpoint_not_found' },
    });
    const audit = await api.call('GET', `/management/audit?subject=${id}`, key);
    expect((audit.body['data'] as { event: string }[]).map((entry) => entry.event).reverse()).toEqual([
      'endpoint.created',
      'endpoint.changed',
      'endpoint.deleted',
    ]);
  });

  it('refuses duplicate and reserved slugs, unknown tiers, unknown fields, and keys without the management scope', async () => {
    const api = execClient(app, acme.project.id);
    const key = acme.adminKey;
    await api.call('POST', '/management/endpoints', key, { slug: 'taken', models: ['m'], service_tier: 'free' });
    expect(
      (await api.call('POST', '/management/endpoints', key, { slug: 'taken', models: ['m'], service_tier: 'free' }))
        .body,
    ).toMatchObject({ error: { code: 'endpoint_exists', param: 'slug' } });
    expect(
      (await api.call('POST', '/management/endpoints', key, { slug: 'v1', models: ['m'], service_tier: 'free' }))
        .status,
    ).toBe(400);
    expect(
      (
        await api.call('POST', '/management/endpoints', key, {
          slug: 'x',
          models: ['m'],
          service_tier: 'gpu_nvidia_dedicated',
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await api.call('POST', '/management/endpoints', key, {
          slug: 'x',
          models: ['m'],
          service_tier: 'free',
          owner: 'me',
        })
      ).status,
    ).toBe(400);
    expect(
      (await api.call('POST', '/management/endpoints', key, { slug: 'x', models: [], service_tier: 'free' })).status,
    ).toBe(400);
    const inference = await acme.keyWith(['inference']);
    expect((await api.call('GET', '/management/endpoints', inference)).body).toMatchObject({
      error: { code: 'scope_insufficient' },
    });
  });
});
