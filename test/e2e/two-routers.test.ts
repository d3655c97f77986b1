import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../services/agent/agent.js';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { bearer } from '../helpers/fixtures.js';
import { silentLogger } from '../helpers/logger.js';
import { cleanEnv, LOOPBACK_ROUTER_ENV, nextMessage, routerSecretsEnv, spawnGroup, waitFor, type Spawned } from '../helpers/processes.js';

interface RouterProcess {
  run: Spawned;
  url: string;
}

describe('two router processes on one database', () => {
  let db: TestDatabase;
  const routers: RouterProcess[] = [];
  const agents: RunningAgent[] = [];
  const secret = randomBytes(32).toString('base64url');
  const adminKey = `xero_acme_${secret}`;
  const dir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'two-routers-'));

  beforeAll(async () => {
    db = await createTestDatabase();
    // Replicas share their keys, as a deployment hands the same secrets to every replica.
    const shared = {
      ...routerSecretsEnv(), ...LOOPBACK_ROUTER_ENV, XEROTIER_DATABASE_URL: db.url, XEROTIER_BOOTSTRAP_PROJECT: 'acme',
      XEROTIER_BOOTSTRAP_ADMIN_KEY_SHA256: createHash('sha256').update(secret).digest('hex'),
    };
    for (let i = 0; i < 2; i++) {
      const run = spawnGroup(process.execPath, ['--import', 'tsx', 'services/router/main.ts'], cleanEnv(shared), true);
      const listening = await nextMessage<{ http_url: string }>(run.child);
      routers.push({ run, url: listening.http_url });
    }
  });
  afterAll(async () => {
    for (const agent of agents) await agent.close();
    for (const router of routers) {
      router.run.child.kill('SIGTERM');
      await router.run.exited;
    }
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a revocation made through one router reaches an agent connected to the other within a second', async () => {
    const [a, b] = routers as [RouterProcess, RouterProcess];
    const minted = await fetch(`${a.url}/acme/v1/management/join-keys`, {
      method: 'POST', headers: { ...bearer(adminKey), 'content-type': 'application/json' }, body: JSON.stringify({ role: 'xem', name: 'x' }),
    });
    let reason: string | undefined;
    const agent = await startAgent({
      role: 'xem', registrationName: 'xem-on-b', routerUrl: b.url, joinKey: ((await minted.json()) as { key: string }).key, allowInsecure: true,
      signingKeyPath: join(dir, 'sign.hex'), curveKeyPath: join(dir, 'curve.hex'), enrollmentPath: join(dir, 'enrollment.json'), agentVersion: 'test',
      logger: silentLogger(), manifest: () => ({ manifest: { tools: [] }, version: 1 }), capacity: () => ({ max_concurrent: 1, in_use: 0 }),
      onFatal: (why) => (reason = why),
    });
    agents.push(agent);
    await waitFor('bound to router B', 10_000, () => (agent.mesh.bound ? true : undefined));

    const revokedAt = Date.now();
    const revoked = await fetch(`${a.url}/acme/v1/management/agents/${agent.agentId}/revoke-credentials`, { method: 'POST', headers: bearer(adminKey) });
    expect(revoked.status).toBe(200);
    await waitFor('the agent to hear it through router B', 2_000, () => reason);
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
  });
});
