import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../services/router/app.js';
import { createPool, type Pool } from '../../services/router/store/pool.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { bearer, seedProject, testEnrollment, type SeededProject } from '../helpers/fixtures.js';
import { capturingLogger, silentLogger } from '../helpers/logger.js';

describe('API keys and management auth', () => {
  let db: TestDatabase;
  let pool: Pool;
  let app: FastifyInstance;
  let acme: SeededProject;
  let other: SeededProject;
  const logs = capturingLogger('debug');

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 4, logger: silentLogger() });
    acme = await seedProject(pool, 'acme');
    other = await seedProject(pool, 'other');
    app = buildApp({ enrollment: testEnrollment(), logger: logs.logger, pool });
  });
  afterAll(async () => {
    await app.close();
    await pool.end();
    await db.drop();
  });

  const create = (token: string, body: unknown, project = acme.project.id) =>
    app.inject({
      method: 'POST',
      url: `/${project}/v1/management/api-keys`,
      headers: bearer(token),
      payload: body as object,
    });

  it('creates a key, shows its secret once, and the key works', async () => {
    const created = await create(acme.adminKey, { name: 'ci', scopes: ['management'] });
    expect(created.statusCode).toBe(201);
    const body = created.json();
    expect(body.key).toMatch(/^xero_acme_[A-Za-z0-9_-]{43}$/);
    expect(body).toMatchObject({
      object: 'api_key',
      name: 'ci',
      scopes: ['management'],
      active: true,
      prefix: body.key.slice(10, 18),
    });
    expect(JSON.stringify(body)).not.toMatch(/hash/);

    const shown = await app.inject({
      url: `/${acme.project.id}/v1/management/api-keys/${body.id}`,
      headers: bearer(body.key),
    });
    expect(shown.statusCode).toBe(200);
    expect(shown.json().key).toBeUndefined();
    expect(shown.json().last_used_at).not.toBeNull();
  });

  it('accepts the project slug in the path as well as its id', async () => {
    const listed = await app.inject({ url: '/acme/v1/management/api-keys', headers: bearer(acme.adminKey) });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().object).toBe('list');
  });

  it('pages the list with a cursor, newest first', async () => {
    // A project of its own: what other tests create does not move the pages.
    const paged = await seedProject(pool);
    for (const name of ['k1', 'k2', 'k3'])
      await create(paged.adminKey, { name, scopes: ['inference'] }, paged.project.id);
    const first = await app.inject({
      url: `/${paged.project.id}/v1/management/api-keys?limit=2`,
      headers: bearer(paged.adminKey),
    });
    expect(first.json().data.map((key: { name: string }) => key.name)).toEqual(['k3', 'k2']);
    expect(first.json().has_more).toBe(true);
    const second = await app.inject({
      url: `/${paged.project.id}/v1/management/api-keys?limit=2&after=${first.json().next_cursor}`,
      headers: bearer(paged.adminKey),
    });
    expect(second.json().data.map((key: { name: string }) => key.name)).toEqual([
      'k1',
      'test inference+management+execution',
    ]);
    expect(second.json().has_more).toBe(false);
  });

  it.each([
    ['no Authorization header', {}, 401, 'invalid_api_key'],
    ['a malformed key', bearer('xero_nope'), 401, 'invalid_api_key'],
    ['an unknown key', bearer(`xero_acme_${'A'.repeat(43)}`), 401, 'invalid_api_key'],
  ])('refuses %s with 401', async (_, headers, status, code) => {
    const response = await app.inject({ url: `/${acme.project.id}/v1/management/api-keys`, headers });
    expect(response.statusCode).toBe(status);
    expect(response.json().error).toMatchObject({ code, type: 'authentication_error' });
    expect(response.headers['x-request-id']).toMatch(/^req_/);
  });

  it('refuses a key presented under another project slug', async () => {
    const forged = acme.adminKey.replace('xero_acme_', 'xero_other_');
    expect(
      (await app.inject({ url: '/other/v1/management/api-keys', headers: bearer(forged) })).json().error.code,
    ).toBe('invalid_api_key');
  });

  it('refuses another project (403 cross_project_access) and unknown projects (404)', async () => {
    const cross = await app.inject({
      url: `/${other.project.id}/v1/management/api-keys`,
      headers: bearer(acme.adminKey),
    });
    expect(cross.statusCode).toBe(403);
    expect(cross.json().error.code).toBe('cross_project_access');
    const missing = await app.inject({
      url: '/proj_ffffffffffff/v1/management/api-keys',
      headers: bearer(acme.adminKey),
    });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toMatchObject({ code: 'project_not_found', param: 'project_id' });
  });

  it('refuses keys without the management scope (403 scope_insufficient) on every endpoint', async () => {
    const inferenceOnly = await acme.keyWith(['inference', 'execution']);
    const calls = [
      { method: 'GET' as const, url: `/${acme.project.id}/v1/management/api-keys` },
      {
        method: 'POST' as const,
        url: `/${acme.project.id}/v1/management/api-keys`,
        payload: { name: 'x', scopes: ['inference'] },
      },
      { method: 'GET' as const, url: `/${acme.project.id}/v1/management/api-keys/key_000000000000` },
      { method: 'DELETE' as const, url: `/${acme.project.id}/v1/management/api-keys/key_000000000000` },
      { method: 'POST' as const, url: `/${acme.project.id}/v1/management/api-keys/key_000000000000/rotate` },
    ];
    for (const call of calls) {
      const response = await app.inject({ ...call, headers: bearer(inferenceOnly) });
      expect(response.statusCode, `${call.method} ${call.url}`).toBe(403);
      expect(response.json().error.code).toBe('scope_insufficient');
    }
  });

  it("finds keys only within the caller's project", async () => {
    const otherKey = await create(other.adminKey, { name: 'theirs', scopes: ['inference'] }, other.project.id);
    const response = await app.inject({
      url: `/${acme.project.id}/v1/management/api-keys/${otherKey.json().id}`,
      headers: bearer(acme.adminKey),
    });
    expect(response.statusCode).toBe(404);
    expect(response.json().error.code).toBe('api_key_not_found');
  });

  it('validates bodies and parameters strictly', async () => {
    expect((await create(acme.adminKey, { name: 'x', scopes: ['root'] })).json().error.code).toBe('invalid_body');
    expect((await create(acme.adminKey, { name: 'x', scopes: ['inference'], admin: true })).json().error.code).toBe(
      'invalid_body',
    );
    expect((await create(acme.adminKey, { name: 'x', scopes: [] })).json().error.code).toBe('invalid_body');
    const badId = await app.inject({
      url: `/${acme.project.id}/v1/management/api-keys/key_' OR 1=1--`,
      headers: bearer(acme.adminKey),
    });
    expect(badId.json().error.code).toBe('invalid_parameter');
  });

  it('stops accepting a revoked key at once', async () => {
    const created = (await create(acme.adminKey, { name: 'doomed', scopes: ['management'] })).json();
    const revoked = await app.inject({
      method: 'DELETE',
      url: `/${acme.project.id}/v1/management/api-keys/${created.id}`,
      headers: bearer(acme.adminKey),
    });
    expect(revoked.json()).toMatchObject({ active: false, revoked_at: expect.any(String) });
    const refused = await app.inject({
      url: `/${acme.project.id}/v1/management/api-keys`,
      headers: bearer(created.key),
    });
    expect(refused.statusCode).toBe(401);
  });

  it('refuses an expired key', async () => {
    const expired = await acme.keyWith(['management'], { expiresAt: new Date(Date.now() - 1_000) });
    expect(
      (await app.inject({ url: `/${acme.project.id}/v1/management/api-keys`, headers: bearer(expired) })).statusCode,
    ).toBe(401);
  });

  it('rotates with a grace window: both keys work until it closes, then only the new one', async () => {
    const created = (await create(acme.adminKey, { name: 'rotating', scopes: ['management'] })).json();
    const rotated = await app.inject({
      method: 'POST',
      url: `/${acme.project.id}/v1/management/api-keys/${created.id}/rotate`,
      headers: bearer(acme.adminKey),
      payload: { grace_seconds: 60 },
    });
    expect(rotated.statusCode).toBe(201);
    expect(rotated.json()).toMatchObject({ name: 'rotating', scopes: ['management'], replaces: created.id });
    const list = `/${acme.project.id}/v1/management/api-keys`;
    expect((await app.inject({ url: list, headers: bearer(created.key) })).statusCode).toBe(200);
    expect((await app.inject({ url: list, headers: bearer(rotated.json().key) })).statusCode).toBe(200);
    const again = await app.inject({
      method: 'POST',
      url: `${list}/${created.id}/rotate`,
      headers: bearer(acme.adminKey),
    });
    expect(again.json().error.code).toBe('api_key_not_rotatable');

    await pool.query("UPDATE api_keys SET grace_until = now() - interval '1 second' WHERE id = $1", [created.id]);
    expect((await app.inject({ url: list, headers: bearer(created.key) })).statusCode).toBe(401);
    expect((await app.inject({ url: list, headers: bearer(rotated.json().key) })).statusCode).toBe(200);
  });

  it('never logs key values', async () => {
    const created = (await create(acme.adminKey, { name: 'canary', scopes: ['inference'] })).json();
    const text = logs.lines().join('');
    expect(text).not.toContain(created.key.slice(10));
    expect(text).not.toContain(acme.adminKey.slice(10));
  });
});
