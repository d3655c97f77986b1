import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertFakeXemAgent, startAppHarness, type AppHarness } from '../helpers/app-harness.js';
import { createMemoryLimiter } from '../../services/router/limits/memory-limiter.js';
import type { RateLimiter } from '../../services/router/limits/rate-limiter.js';
import { createRedisLimiter } from '../../services/router/limits/redis-limiter.js';
import type { Pool } from '../../services/router/store/pool.js';
import { execClient } from '../helpers/exec-client.js';
import type { SeededProject } from '../helpers/fixtures.js';
import { silentLogger } from '../helpers/logger.js';

const redisUrl = process.env['XEROTIER_TEST_REDIS_URL'];
if (!redisUrl)
  process.stdout.write(
    'rate limits: the redis backend is skipped (set XEROTIER_TEST_REDIS_URL to run it); the memory backend runs\n',
  );

// One prefix per run, so runs sharing a Redis never count each other's requests.
const prefix = `xerotier-test:${randomBytes(6).toString('hex')}:`;
const backends: { name: string; make: () => RateLimiter; shared: boolean }[] = [
  { name: 'memory', make: () => createMemoryLimiter(), shared: false },
  ...(redisUrl
    ? [{ name: 'redis', make: () => createRedisLimiter(redisUrl, silentLogger(), prefix), shared: true }]
    : []),
];
const W = 60_000;

describe.each(backends)('rate limits with the $name backend', ({ make, shared }) => {
  const limiters: RateLimiter[] = [];
  const limiter = () => {
    const made = make();
    limiters.push(made);
    return made;
  };
  afterAll(async () => {
    for (const made of limiters) await made.close();
  });
  const key = () => `t:${randomBytes(6).toString('hex')}`;

  it('allows the limit within a window, refuses the next with a retry-after, and allows it again once it passed', async () => {
    const rl = limiter();
    const window = [{ key: key(), limit: 5, windowMs: W }];
    const t0 = 10_000 * W;
    for (let index = 0; index < 5; index += 1) expect((await rl.hit(window, t0 + index)).allowed).toBe(true);
    const refused = await rl.hit(window, t0 + 10);
    expect(refused).toMatchObject({ allowed: false, key: window[0]!.key });
    if (refused.allowed) throw new Error('unreachable');
    expect(refused.retryAfterMs).toBeGreaterThan(W - 1_000);
    expect((await rl.hit(window, t0 + refused.retryAfterMs + 10)).allowed).toBe(true);
  });

  it('counts a request in every layer or in none: a refusal by one layer spends nothing of the others', async () => {
    const rl = limiter();
    const project = { key: key(), limit: 3, windowMs: W };
    const workspace = { key: key(), limit: 1, windowMs: W };
    const otherWorkspace = { key: key(), limit: 10, windowMs: W };
    const t0 = 20_000 * W;
    expect((await rl.hit([project, workspace], t0)).allowed).toBe(true);
    for (let index = 0; index < 5; index += 1)
      expect(await rl.hit([project, workspace], t0 + 1 + index)).toMatchObject({ allowed: false, key: workspace.key });
    // Only one of the project's three was spent.
    expect((await rl.hit([project, otherWorkspace], t0 + 10)).allowed).toBe(true);
    expect((await rl.hit([project, otherWorkspace], t0 + 11)).allowed).toBe(true);
    expect(await rl.hit([project, otherWorkspace], t0 + 12)).toMatchObject({ allowed: false, key: project.key });
  });

  it.runIf(shared)('is shared by every router using the backend', async () => {
    const [a, b] = [limiter(), limiter()];
    const window = [{ key: key(), limit: 4, windowMs: W }];
    const t0 = 30_000 * W;
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, index) => (index % 2 === 0 ? a : b).hit(window, t0 + index)),
    );
    expect(answers.filter((answer) => answer.allowed)).toHaveLength(4);
  });

  describe('through the HTTP API', () => {
    let harness: AppHarness;
    let pool: Pool;
    let app: FastifyInstance;
    let acme: SeededProject;

    beforeAll(async () => {
      harness = await startAppHarness({
        prepare: async (db, project) =>
          void (await insertFakeXemAgent(db, project, 'xem-limits', [{ name: 'noop', risk: 'read' }])),
        app: {
          rateLimits: { limiter: limiter(), apiKeyRpm: 8, exec: { global: 0, project: 3, workspace: 0, agent: 0 } },
        },
      });
      ({ pool, app, acme } = harness);
    });
    afterAll(() => harness.close());

    it('answers 429 with Retry-After, retry_after and retry_strategy when a layer is full', async () => {
      const api = execClient(app, acme.project.id);
      const key = await acme.keyWith(['execution']);
      for (let index = 0; index < 3; index += 1) expect((await api.invoke(key, 'noop', {})).status).toBe(201);
      const response = await app.inject({
        method: 'POST',
        url: `/${acme.project.id}/v1/exec/invocations`,
        headers: { authorization: `Bearer ${key}` },
        payload: { tool: 'noop', args: {} },
      });
      expect(response.statusCode).toBe(429);
      expect(Number(response.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(response.json().error).toMatchObject({
        code: 'rate_limited',
        type: 'rate_limit_error',
        retry_after: Number(response.headers['retry-after']),
        message: expect.stringContaining('project'),
        retry_strategy: {
          type: 'exponential_backoff',
          initial_delay_ms: expect.any(Number),
          max_delay_ms: expect.any(Number),
          multiplier: 2,
          jitter: 'full',
        },
      });
      expect((await pool.query('SELECT count(*)::int AS n FROM invocations')).rows[0].n).toBe(3);
    });

    it('limits each API key to XEROTIER_API_RATE_LIMIT_RPM requests, keys apart', async () => {
      const api = execClient(app, acme.project.id);
      const [first, second] = [await acme.keyWith(['execution']), await acme.keyWith(['execution'])];
      const statuses = [];
      for (let index = 0; index < 10; index += 1) statuses.push((await api.call('GET', '/exec/tools', first)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 429, 429]);
      expect((await api.call('GET', '/exec/tools', second)).status).toBe(200);
    });
  });
});
