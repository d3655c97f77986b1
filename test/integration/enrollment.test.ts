import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCurveKeyPair } from '../../services/protocol/curve-keys.js';
import { generateSigningKeyPair } from '../../services/protocol/signing.js';
import { buildApp } from '../../services/router/app.js';
import { createFailureThrottle } from '../../services/router/enrollment/failure-throttle.js';
import { ensureBootstrap } from '../../services/router/store/bootstrap.js';
import { createPool, type Pool } from '../../services/router/store/pool.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { bearer, seedProject, testEnrollment, type SeededProject } from '../helpers/fixtures.js';
import { capturingLogger, silentLogger } from '../helpers/logger.js';

describe('join keys and enrollment', () => {
  let db: TestDatabase;
  let pool: Pool;
  let app: FastifyInstance;
  let acme: SeededProject;
  const logs = capturingLogger('debug');
  const settings = testEnrollment({ meshEndpoint: 'tcp://127.0.0.1:5999', leaseRenewalIntervalMs: 2_000 });
  const revoked: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 30, logger: silentLogger() });
    acme = await seedProject(pool, 'acme');
    app = buildApp({
      logger: logs.logger,
      pool,
      enrollment: settings,
      mesh: { agentEnrolled: () => undefined, agentRevoked: (id) => revoked.push(id) },
      enrollmentThrottle: createFailureThrottle({ limit: 1_000, windowMs: 60_000 }),
    });
  });
  afterAll(async () => {
    await app.close();
    await pool.end();
    await db.drop();
  });

  const mgmt = (path: string) => `/${acme.project.id}/v1/management${path}`;
  async function mint(body: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
    const response = await app.inject({
      method: 'POST',
      url: mgmt('/join-keys'),
      headers: bearer(acme.adminKey),
      payload: { role: 'xem', name: 'test', ...body },
    });
    expect(response.statusCode).toBe(201);
    return response.json();
  }
  function enrollBody(
    joinKey: string,
    name = `xem-${randomBytes(3).toString('hex')}`,
    role = 'xem',
    curve = generateCurveKeyPair().publicKey,
  ) {
    return {
      join_key: joinKey,
      role,
      registration_name: name,
      signing_public_key: Buffer.from(generateSigningKeyPair().publicKey).toString('hex'),
      curve_public_key: curve,
    };
  }
  const enroll = (body: object) => app.inject({ method: 'POST', url: '/v1/enroll', payload: body });
  let auditFrom = '0';
  const reasons = async () =>
    (
      await pool.query<{ reason: string }>(
        "SELECT detail->>'reason' AS reason FROM execution_audit_log WHERE event = 'agent.enrollment_refused' AND position > $1 ORDER BY position",
        [auditFrom],
      )
    ).rows.map((row) => row.reason);

  it('mints a join key shown once, and enrolls an agent with it', async () => {
    const key = await mint({ region: 'us-east-1' });
    expect(key.key).toMatch(/^xjk_[A-Za-z0-9_-]{43}$/);
    const shown = await app.inject({ url: mgmt(`/join-keys/${key.id}`), headers: bearer(acme.adminKey) });
    expect(shown.json()).toMatchObject({ status: 'active', role: 'xem', region: 'us-east-1' });
    expect(shown.json().key).toBeUndefined();

    const response = await enroll(enrollBody(key.key, 'xem-first'));
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toMatchObject({
      agent_id: expect.stringMatching(/^agt_[0-9a-f]{24}$/),
      project_id: acme.project.id,
      router_curve_public_key: settings.routerCurvePublicKey,
      mesh_endpoint: 'tcp://127.0.0.1:5999',
      lease_renewal_interval_ms: 2_000,
    });
    expect(new Date(body.expires_at).getTime()).toBeGreaterThan(Date.now());

    const agent = await app.inject({ url: mgmt(`/agents/${body.agent_id}`), headers: bearer(acme.adminKey) });
    expect(agent.json()).toMatchObject({
      status: 'pending',
      registration_name: 'xem-first',
      region: 'us-east-1',
      role: 'xem',
    });
    expect(JSON.stringify(agent.json())).not.toMatch(/public_key/);
    const used = await app.inject({ url: mgmt(`/join-keys/${key.id}`), headers: bearer(acme.adminKey) });
    expect(used.json()).toMatchObject({ status: 'used', used_by_agent: body.agent_id });
  });

  it('lets exactly one of 20 concurrent enrollments spend a key', async () => {
    const key = await mint();
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => enroll(enrollBody(key.key, `racer-${i}`))),
    );
    const statuses = responses.map((response) => response.statusCode).sort();
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 401)).toHaveLength(19);
    const rows = await pool.query('SELECT id FROM agents WHERE join_key_id = $1', [key.id]);
    expect(rows.rowCount).toBe(1);
    const spent = await pool.query('SELECT used_by_agent FROM join_keys WHERE id = $1', [key.id]);
    expect(spent.rows[0].used_by_agent).toBe(rows.rows[0].id);
  });

  it('answers expired, reused, revoked, unknown and wrong-role keys alike, and audits which it was', async () => {
    auditFrom = (
      await pool.query<{ last: string }>('SELECT coalesce(max(position), 0)::text AS last FROM execution_audit_log')
    ).rows[0]!.last;
    const reused = await mint();
    expect((await enroll(enrollBody(reused.key))).statusCode).toBe(201);
    const expired = await mint();
    await pool.query("UPDATE join_keys SET expires_at = now() - interval '1 second' WHERE id = $1", [expired.id]);
    const revokedKey = await mint();
    await app.inject({ method: 'DELETE', url: mgmt(`/join-keys/${revokedKey.id}`), headers: bearer(acme.adminKey) });
    const wrongRole = await mint({ role: 'xim' });

    const answers = [
      await enroll(enrollBody(expired.key)),
      await enroll(enrollBody(reused.key)),
      await enroll(enrollBody(revokedKey.key)),
      await enroll(enrollBody(`xjk_${randomBytes(32).toString('base64url')}`)),
      await enroll(enrollBody(wrongRole.key)),
      await enroll(enrollBody('not-even-a-key')),
    ];
    for (const answer of answers) {
      expect(answer.statusCode).toBe(401);
      expect(answer.json()).toEqual({
        error: {
          message: 'The join key is not valid',
          type: 'authentication_error',
          code: 'enrollment_denied',
          param: null,
        },
      });
    }
    expect(await reasons()).toEqual(['expired', 'reused', 'revoked', 'unknown', 'role_mismatch', 'malformed']);
    // A refused wrong-role attempt does not burn the key.
    expect((await enroll(enrollBody(wrongRole.key, 'xim-ok', 'xim'))).statusCode).toBe(201);
  });

  it('replaces a live agent only with a key minted to allow it, audited, and the old token then says superseded', async () => {
    const first = (await enroll(enrollBody((await mint()).key, 'xem-reborn'))).json();
    const second = (await enroll(enrollBody((await mint({ allow_replace: true })).key, 'xem-reborn'))).json();
    const old = await app.inject({ url: mgmt(`/agents/${first.agent_id}`), headers: bearer(acme.adminKey) });
    expect(old.json().status).toBe('superseded');
    const refused = await app.inject({ method: 'POST', url: '/v1/enroll/refresh', headers: bearer(first.token) });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error.code).toBe('agent_superseded');
    expect(
      (await app.inject({ method: 'POST', url: '/v1/enroll/refresh', headers: bearer(second.token) })).statusCode,
    ).toBe(200);
    const audit = await pool.query(
      "SELECT detail FROM execution_audit_log WHERE event = 'agent.superseded' AND subject = $1",
      [first.agent_id],
    );
    expect(audit.rows[0].detail).toMatchObject({ by: second.agent_id, registration_name: 'xem-reborn' });
  });

  it('attack: an ordinary join key cannot knock a live agent offline by enrolling under its name (and is not spent trying)', async () => {
    const victim = (await enroll(enrollBody((await mint()).key, 'xem-victim'))).json();
    const stolen = await mint();
    const attempt = await enroll(enrollBody(stolen.key, 'xem-victim'));
    expect(attempt.statusCode).toBe(409);
    expect(attempt.json().error).toMatchObject({ code: 'registration_name_in_use', param: 'registration_name' });
    expect(
      (await app.inject({ url: mgmt(`/agents/${victim.agent_id}`), headers: bearer(acme.adminKey) })).json().status,
    ).toBe('pending');
    expect(
      (await app.inject({ method: 'POST', url: '/v1/enroll/refresh', headers: bearer(victim.token) })).statusCode,
    ).toBe(200);
    expect(
      (await app.inject({ url: mgmt(`/join-keys/${stolen.id}`), headers: bearer(acme.adminKey) })).json().status,
    ).toBe('active');
    const refusal = await pool.query(
      "SELECT detail FROM execution_audit_log WHERE event = 'agent.enrollment_refused' AND subject = $1",
      [stolen.id],
    );
    expect(refusal.rows[0].detail).toMatchObject({ reason: 'registration_name_in_use' });
  });

  it('attack: a join key of another project cannot evict an agent by presenting its CURVE key, even with allow_replace', async () => {
    const curve = generateCurveKeyPair().publicKey;
    const victim = (await enroll(enrollBody((await mint()).key, 'xem-keyed', 'xem', curve))).json();
    const intruder = await seedProject(pool, `intruder-${randomBytes(3).toString('hex')}`);
    const theirs = await app.inject({
      method: 'POST',
      url: `/${intruder.project.id}/v1/management/join-keys`,
      headers: bearer(intruder.adminKey),
      payload: { role: 'xem', name: 'x', allow_replace: true },
    });
    const attempt = await enroll(enrollBody(theirs.json().key, 'anything', 'xem', curve));
    expect(attempt.statusCode).toBe(409);
    expect(attempt.json().error.code).toBe('agent_key_in_use');
    expect(
      (await app.inject({ url: mgmt(`/agents/${victim.agent_id}`), headers: bearer(acme.adminKey) })).json().status,
    ).toBe('pending');
  });

  it('lets an operator bind a join key to one registration name', async () => {
    const bound = await mint({ registration_name: 'gpu-7' });
    const wrong = await enroll(enrollBody(bound.key, 'gpu-8'));
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().error.code).toBe('registration_name_not_allowed');
    expect((await enroll(enrollBody(bound.key, 'gpu-7'))).statusCode).toBe(201);
  });

  it('refreshes tokens for live agents only', async () => {
    const enrolled = (await enroll(enrollBody((await mint()).key))).json();
    const refreshed = await app.inject({ method: 'POST', url: '/v1/enroll/refresh', headers: bearer(enrolled.token) });
    expect(refreshed.statusCode).toBe(200);
    expect(refreshed.json().token).not.toBe(enrolled.token);

    const revoke = await app.inject({
      method: 'POST',
      url: mgmt(`/agents/${enrolled.agent_id}/revoke-credentials`),
      headers: bearer(acme.adminKey),
    });
    expect(revoke.json().status).toBe('revoked');
    expect(revoked).toContain(enrolled.agent_id);
    for (const [token, code] of [
      [enrolled.token, 'agent_revoked'],
      [refreshed.json().token, 'agent_revoked'],
      ['garbage', 'invalid_token'],
      ['', 'invalid_token'],
    ] as const) {
      const refused = await app.inject({ method: 'POST', url: '/v1/enroll/refresh', headers: bearer(token) });
      expect(refused.statusCode).toBe(401);
      expect(refused.json().error.code).toBe(code);
    }
    const events = await app.inject({
      url: mgmt(`/agents/${enrolled.agent_id}/events`),
      headers: bearer(acme.adminKey),
    });
    expect(events.json().data.map((event: { event: string }) => event.event)).toEqual([
      'agent.credentials_revoked',
      'agent.enrolled',
    ]);
  });

  it('validates enrollment bodies', async () => {
    const key = await mint();
    expect((await enroll({ ...enrollBody(key.key), registration_name: 'bad_name!' })).json().error).toMatchObject({
      code: 'invalid_body',
    });
    expect((await enroll({ ...enrollBody(key.key), registration_name: 'a'.repeat(49) })).json().error.code).toBe(
      'invalid_body',
    );
    expect((await enroll({ ...enrollBody(key.key), curve_public_key: ' '.repeat(40) })).json().error).toMatchObject({
      code: 'invalid_body',
      param: 'curve_public_key',
    });
    expect((await enroll({ ...enrollBody(key.key), role: 'admin' })).json().error.code).toBe('invalid_body');
    expect((await enroll({ ...enrollBody(key.key), extra: 1 })).json().error.code).toBe('invalid_body');
    expect((await enroll(enrollBody(key.key))).statusCode).toBe(201);
  });

  it('guards join-key and agent management with the management scope', async () => {
    const key = await acme.keyWith(['inference', 'execution']);
    for (const url of [
      mgmt('/join-keys'),
      mgmt('/agents'),
      mgmt('/agents/agt_000000000000'),
      mgmt('/agents/agt_000000000000/events'),
      mgmt('/agents/agt_000000000000/tools'),
    ]) {
      expect((await app.inject({ url, headers: bearer(key) })).json().error.code).toBe('scope_insufficient');
    }
    expect(
      (
        await app.inject({
          method: 'POST',
          url: mgmt('/join-keys'),
          headers: bearer(key),
          payload: { role: 'xem', name: 'x' },
        })
      ).statusCode,
    ).toBe(403);
    expect(
      (
        await app.inject({
          method: 'POST',
          url: mgmt('/agents/agt_000000000000/revoke-credentials'),
          headers: bearer(key),
        })
      ).statusCode,
    ).toBe(403);
  });

  it("refuses another project's key on every management endpoint", async () => {
    const other = await seedProject(pool, 'intruder');
    const calls = [
      { method: 'GET' as const, path: '/api-keys' },
      { method: 'POST' as const, path: '/api-keys', payload: { name: 'x', scopes: ['inference'] } },
      { method: 'GET' as const, path: '/api-keys/key_000000000000' },
      { method: 'DELETE' as const, path: '/api-keys/key_000000000000' },
      { method: 'POST' as const, path: '/api-keys/key_000000000000/rotate' },
      { method: 'GET' as const, path: '/join-keys' },
      { method: 'POST' as const, path: '/join-keys', payload: { role: 'xem', name: 'x' } },
      { method: 'GET' as const, path: '/join-keys/jk_000000000000' },
      { method: 'DELETE' as const, path: '/join-keys/jk_000000000000' },
      { method: 'GET' as const, path: '/agents' },
      { method: 'GET' as const, path: '/agents/agt_000000000000' },
      { method: 'GET' as const, path: '/agents/agt_000000000000/events' },
      { method: 'GET' as const, path: '/agents/agt_000000000000/tools' },
      { method: 'POST' as const, path: '/agents/agt_000000000000/revoke-credentials' },
    ];
    for (const call of calls) {
      const response = await app.inject({
        method: call.method,
        url: mgmt(call.path),
        headers: bearer(other.adminKey),
        ...(call.payload ? { payload: call.payload } : {}),
      });
      expect(response.statusCode, `${call.method} ${call.path}`).toBe(403);
      expect(response.json().error.code).toBe('cross_project_access');
    }
  });

  it('accepts deploy-time join keys given as hashes, once', async () => {
    const secret = randomBytes(32).toString('base64url');
    const sha256 = createHash('sha256').update(secret).digest('hex');
    const plan = { projectSlug: 'acme', joinKeys: [{ role: 'xem' as const, name: 'xem-provisioned', sha256 }] };
    await ensureBootstrap(pool, plan);
    await ensureBootstrap(pool, plan);
    // Bound to the agent it was provisioned for: a copy enrolls nothing else.
    expect((await enroll(enrollBody(`xjk_${secret}`, 'xem-other'))).statusCode).toBe(403);
    expect((await enroll(enrollBody(`xjk_${secret}`, 'xem-provisioned'))).statusCode).toBe(201);
    expect((await enroll(enrollBody(`xjk_${secret}`, 'xem-provisioned'))).statusCode).toBe(401);
  });

  it('makes an address that keeps presenting bad join keys wait (429 with Retry-After)', async () => {
    const strictApp = buildApp({
      logger: silentLogger(),
      pool,
      enrollment: settings,
      enrollmentThrottle: createFailureThrottle({ limit: 3, windowMs: 60_000 }),
    });
    const attempt = (remoteAddress: string) =>
      strictApp.inject({
        method: 'POST',
        url: '/v1/enroll',
        remoteAddress,
        payload: enrollBody(`xjk_${randomBytes(32).toString('base64url')}`),
      });
    for (let i = 0; i < 3; i++) expect((await attempt('10.9.9.9')).statusCode).toBe(401);
    const limited = await attempt('10.9.9.9');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json().error).toMatchObject({
      code: 'rate_limited',
      type: 'rate_limit_error',
      retry_after: expect.any(Number),
      retry_strategy: { type: 'exponential_backoff' },
    });
    expect((await attempt('10.8.8.8')).statusCode).toBe(401);
    await strictApp.close();
  });

  it('never logs join keys, tokens or API keys', async () => {
    const key = await mint();
    const enrolled = (await enroll(enrollBody(key.key))).json();
    await app.inject({ method: 'POST', url: '/v1/enroll/refresh', headers: bearer(enrolled.token) });
    const text = logs.lines().join('');
    expect(text).toContain('agent enrolled');
    for (const secret of [key.key.slice(4), enrolled.token, acme.adminKey.slice(10)])
      expect(text).not.toContain(secret);
  });
});
