import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCurveKeyPair } from '../../services/protocol/curve-keys.js';
import { generateSigningKeyPair } from '../../services/protocol/signing.js';
import { createAgentTokens } from '../../services/router/auth/agent-tokens.js';
import { buildApp } from '../../services/router/app.js';
import { createPool, type Pool } from '../../services/router/store/pool.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { bearer, seedProject, testEnrollment, type SeededProject } from '../helpers/fixtures.js';
import { silentLogger } from '../helpers/logger.js';

const seed = () => randomBytes(32).toString('hex');

/**
 * Rotating the token-signing key with an overlap: a router on the new key that still accepts the
 * previous one takes an agent's old token and hands it a new-key token, so nobody is stranded;
 * once the previous key is dropped, only new-key tokens work (and an agent offline past that
 * proves its enrolled key instead: reauthenticate, tested in agent-process).
 */
describe('token-signing key rotation', () => {
  let db: TestDatabase;
  let pool: Pool;
  let acme: SeededProject;
  const [oldKey, newKey] = [seed(), seed()];
  const appWith = (tokens: ReturnType<typeof createAgentTokens>) =>
    buildApp({ enrollment: testEnrollment({ tokens }), logger: silentLogger(), pool });

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 4, logger: silentLogger() });
    acme = await seedProject(pool);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('verifies the previous key only while it is configured, and never signs with it', async () => {
    const before = createAgentTokens(oldKey, 3_600);
    const during = createAgentTokens(newKey, 3_600, oldKey);
    const after = createAgentTokens(newKey, 3_600);
    const claims = { agentId: 'agt_0123456789abcdef01234567', projectId: acme.project.id, role: 'xim' as const };
    const old = (await before.issue(claims)).token;
    await expect(during.verify(old)).resolves.toMatchObject({ agentId: claims.agentId });
    await expect(after.verify(old)).rejects.toThrow();
    const fresh = (await during.issue(claims)).token;
    await expect(after.verify(fresh)).resolves.toMatchObject({ agentId: claims.agentId });
    await expect(before.verify(fresh)).rejects.toThrow();
    // A token of any other key (its own key id, unknown here) is refused.
    const forged = (await createAgentTokens(seed(), 3_600).issue(claims)).token;
    await expect(during.verify(forged)).rejects.toThrow();
  });

  it("moves an enrolled agent to the new key at its next refresh, through the router's API", async () => {
    const beforeApp = appWith(createAgentTokens(oldKey, 3_600));
    const minted = await beforeApp.inject({
      method: 'POST',
      url: `/${acme.project.id}/v1/management/join-keys`,
      headers: bearer(acme.adminKey),
      payload: { role: 'xim', name: 'gpu-1' },
    });
    const enrolled = await beforeApp.inject({
      method: 'POST',
      url: '/v1/enroll',
      payload: {
        join_key: minted.json().key,
        role: 'xim',
        registration_name: 'gpu-1',
        signing_public_key: Buffer.from(generateSigningKeyPair().publicKey).toString('hex'),
        curve_public_key: generateCurveKeyPair().publicKey,
      },
    });
    expect(enrolled.statusCode).toBe(201);
    await beforeApp.close();
    const oldToken = enrolled.json().token as string;
    // The router restarted with the new key, the old one kept as previous.
    const duringApp = appWith(createAgentTokens(newKey, 3_600, oldKey));
    const refreshed = await duringApp.inject({ method: 'POST', url: '/v1/enroll/refresh', headers: bearer(oldToken) });
    expect(refreshed.statusCode).toBe(200);
    await duringApp.close();
    // The previous key dropped: the refreshed token works, the old one is refused.
    const afterApp = appWith(createAgentTokens(newKey, 3_600));
    expect(
      (await afterApp.inject({ method: 'POST', url: '/v1/enroll/refresh', headers: bearer(refreshed.json().token) }))
        .statusCode,
    ).toBe(200);
    const stale = await afterApp.inject({ method: 'POST', url: '/v1/enroll/refresh', headers: bearer(oldToken) });
    expect([stale.statusCode, stale.json().error.code]).toEqual([401, 'invalid_token']);
    await afterApp.close();
  });
});
