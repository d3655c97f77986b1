import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontendConfigSchema } from '../../services/frontend/config.js';
import { compileFrontendSettings, createFrontend, type Frontend } from '../../services/frontend/frontend.js';
import { loadConfig } from '../../services/runtime/config/load.js';
import { execClient } from '../helpers/exec-client.js';
import { silentLogger } from '../helpers/logger.js';
import { startRouterHarness, type RouterHarness } from '../helpers/router-harness.js';

const redisUrl = process.env['XEROTIER_TEST_REDIS_URL'];
if (!redisUrl) process.stdout.write('web UI sessions in Redis: skipped (set XEROTIER_TEST_REDIS_URL to run them)\n');

const PASSWORD = 'a passphrase long enough';
const SECRET = randomBytes(32).toString('hex');

/**
 * Two UI replicas on one Redis in front of the production router: a session opened at one is
 * good at the other and after a restart, Redis holds nothing that signs anyone in, and a Redis
 * that does not answer is a 503 in the envelope.
 */
describe.skipIf(!redisUrl)('web UI sessions shared through Redis', () => {
  let router: RouterHarness;
  const started: Frontend[] = [];
  const prefix = `xerotier-test:ui:${randomBytes(6).toString('hex')}:`;
  let redis: Redis;

  const replica = async (env: Record<string, string> = {}) => {
    const settings = compileFrontendSettings(
      loadConfig(frontendConfigSchema, {
        env: {
          XEROTIER_FRONTEND_ROUTER_URL: router.url,
          XEROTIER_FRONTEND_PROJECT: router.project.project.id,
          XEROTIER_FRONTEND_HTTP_HOST: '127.0.0.1',
          XEROTIER_FRONTEND_HTTP_PORT: '0',
          XEROTIER_FRONTEND_REDIS_URL: redisUrl!,
          XEROTIER_FRONTEND_SESSION_SECRET: SECRET,
          ...env,
        },
        readFile: () => null,
      }),
    );
    const frontend = createFrontend(settings, { logger: silentLogger(), sessionPrefix: prefix });
    started.push(frontend);
    return { frontend, url: await frontend.start() };
  };
  const signIn = async (url: string) => {
    const answer = await fetch(`${url}/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: 'lin@ui.test', password: PASSWORD }).toString(),
    });
    expect(answer.status).toBe(303);
    return /xerotier_session=([^;]+)/.exec(answer.headers.get('set-cookie') ?? '')![1]!;
  };
  const page = (url: string, cookie: string) =>
    fetch(`${url}/chat`, { redirect: 'manual', headers: { cookie: `xerotier_session=${cookie}` } });

  beforeAll(async () => {
    router = await startRouterHarness();
    redis = new Redis(redisUrl!);
    const added = await execClient(router.app, router.project.project.id).call(
      'POST',
      '/management/users',
      router.project.adminKey,
      { email: 'lin@ui.test', display_name: 'Lin', roles: ['operator'], password: PASSWORD },
    );
    expect(added.status).toBe(201);
  });
  afterAll(async () => {
    for (const frontend of started) await frontend.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await router?.close();
  });

  it('a session opened at one replica is good at another, and after both restart', async () => {
    const a = await replica();
    const b = await replica();
    const cookie = await signIn(a.url);
    const atB = await page(b.url, cookie);
    expect(atB.status).toBe(200);
    expect(await atB.text()).toContain('Lin');
    await a.frontend.close();
    await b.frontend.close();
    const again = await replica();
    expect((await page(again.url, cookie)).status).toBe(200);
  });

  it('Redis holds neither the cookie nor the router key: a dump signs no one in', async () => {
    const a = await replica();
    const cookie = await signIn(a.url);
    const keys = await redis.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThan(0);
    const values = await Promise.all(keys.map((key) => redis.get(key)));
    const dump = keys.join('\n') + values.join('\n');
    expect(dump).not.toContain(cookie);
    expect(dump).not.toMatch(/xt_|Lin|lin@ui\.test/);
    // Presenting a stored key or value as the cookie opens nothing.
    for (const key of keys) expect((await page(a.url, key.slice(prefix.length))).status).toBe(302);
  });

  it('a replica with another session secret does not accept the session (it signs in again)', async () => {
    const a = await replica();
    const cookie = await signIn(a.url);
    const other = await replica({ XEROTIER_FRONTEND_SESSION_SECRET: randomBytes(32).toString('hex') });
    const answer = await page(other.url, cookie);
    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe('/sign-in');
  });

  it('sign-out at one replica ends the session at every replica and at the router', async () => {
    const a = await replica();
    const b = await replica();
    const cookie = await signIn(a.url);
    const chat = await (await page(a.url, cookie)).text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(chat)![1]!;
    const out = await fetch(`${b.url}/sign-out`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: `xerotier_session=${cookie}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf }).toString(),
    });
    expect(out.status).toBe(303);
    expect((await page(a.url, cookie)).status).toBe(302);
  });

  it('a Redis that does not answer is a 503 in the envelope, never a 500, and leaks nothing', async () => {
    const down = await replica({ XEROTIER_FRONTEND_REDIS_URL: 'redis://:hunter2-secret@127.0.0.1:1' });
    const answer = await page(down.url, 'x'.repeat(43));
    expect(answer.status).toBe(503);
    const body = await answer.text();
    expect(JSON.parse(body)).toMatchObject({ error: { code: 'sessions_unavailable' } });
    expect(body).not.toContain('hunter2');
  });
});
