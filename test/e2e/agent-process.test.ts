import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { cleanEnv, spawnGroup, spawnXemAgent, waitFor, type Spawned } from '../helpers/processes.js';
import { agentStatus, startRouterHarness, type RouterHarness } from '../helpers/router-harness.js';
import { bearer } from '../helpers/fixtures.js';
import { loadEnrollment } from '../../services/agent/enrollment-client.js';
import { signChallenge } from '../../services/protocol/reauth.js';
import { generateSigningKeyPair } from '../../services/protocol/signing.js';

const INTERVAL_MS = 1_000;
const TIMEOUT_MS = 3_000;

describe('XEM agent process: restarts, pauses and leases', () => {
  let router: RouterHarness;
  const dir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'agent-e2e-'));
  let joinKey: string;
  const started: Spawned[] = [];

  beforeAll(async () => {
    router = await startRouterHarness({ leaseRenewalIntervalMs: INTERVAL_MS, heartbeatTimeoutMs: TIMEOUT_MS });
    joinKey = await router.mintJoinKey();
  });
  afterAll(async () => {
    for (const run of started)
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await router.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function startAgentProcess(): Spawned {
    const run = spawnXemAgent({ routerUrl: router.url, joinKey, name: 'xem-e2e', dir, intervalMs: INTERVAL_MS });
    started.push(run);
    return run;
  }
  const agentId = (run: Spawned) =>
    new Promise<string>((resolve) =>
      run.child.once('message', (message: { agent_id: string }) => resolve(message.agent_id)),
    );
  /** The agent's IPC report that it retired (revoked or superseded), with why. */
  const retiredReport = (run: Spawned) =>
    new Promise<{ reason: string }>((resolve) =>
      run.child.on(
        'message',
        (message: { type: string; reason: string }) => message.type === 'retired' && resolve(message),
      ),
    );
  const heartbeat = async (id: string) =>
    (await router.pool.query('SELECT last_heartbeat FROM agents WHERE id = $1', [id])).rows[0]
      ?.last_heartbeat as Date | null;
  const statusIs = (id: string, status: string) => async () =>
    (await agentStatus(router.pool, id)) === status ? true : undefined;

  it('comes back after SIGKILL with its persisted keys, without enrolling again', async () => {
    const first = startAgentProcess();
    const id = await agentId(first);
    await waitFor('active', 10_000, statusIs(id, 'active'));
    first.child.kill('SIGKILL');
    await first.exited;

    const second = startAgentProcess();
    expect(await agentId(second)).toBe(id);
    const restartedAt = Date.now();
    await waitFor('a renewal from the restarted agent', 15_000, async () =>
      (await heartbeat(id))!.getTime() > restartedAt ? true : undefined,
    );
    const enrollments = await router.pool.query(
      "SELECT count(*)::int AS n FROM execution_audit_log WHERE subject = $1 AND event = 'agent.enrolled'",
      [id],
    );
    expect(enrollments.rows[0].n).toBe(1);
    expect(second.stdout()).toContain('using the persisted enrollment');
  });

  it('goes stale when stopped (SIGSTOP) past the heartbeat timeout, and active again on SIGCONT', async () => {
    // An agent of its own, whatever the other cases left running.
    const run = spawnXemAgent({
      routerUrl: router.url,
      joinKey: await router.mintJoinKey(),
      name: 'xem-sigstop',
      dir: mkdtempSync(join(dir, 'sigstop-')),
      intervalMs: INTERVAL_MS,
    });
    started.push(run);
    const id = await agentId(run);
    await waitFor('active', 10_000, statusIs(id, 'active'));
    process.kill(run.child.pid!, 'SIGSTOP');
    try {
      await waitFor('stale', TIMEOUT_MS + 5_000, statusIs(id, 'stale'));
    } finally {
      process.kill(run.child.pid!, 'SIGCONT');
    }
    await waitFor('active again', 10_000, statusIs(id, 'active'));
    const events = await router.pool.query<{ event: string }>(
      'SELECT event FROM execution_audit_log WHERE subject = $1 ORDER BY position',
      [id],
    );
    expect(events.rows.map((row) => row.event)).toEqual(
      expect.arrayContaining(['agent.lease_stale', 'agent.lease_active']),
    );
    run.child.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });

  it('attack aftermath: a superseded agent says so, stays up idle instead of crash-looping, and a restart with its spent key stays retired', async () => {
    const victimDir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'agent-e2e-victim-'));
    try {
      const spent = await router.mintJoinKey();
      const victim = spawnXemAgent({
        routerUrl: router.url,
        joinKey: spent,
        name: 'xem-replaced',
        dir: victimDir,
        intervalMs: INTERVAL_MS,
      });
      started.push(victim);
      const victimId = await agentId(victim);
      await waitFor('active', 10_000, statusIs(victimId, 'active'));
      // The operator replaces it explicitly (a re-imaged host): a key minted to allow it.
      const replacing = await router.app.inject({
        method: 'POST',
        url: `/${router.project.project.id}/v1/management/join-keys`,
        headers: bearer(router.project.adminKey),
        payload: { role: 'xem', name: 'rebuild', allow_replace: true },
      });
      await router.enrollPeer('xem-replaced', replacing.json().key);
      const retired = await retiredReport(victim);
      expect(retired.reason).toContain('superseded');
      expect(victim.child.exitCode).toBeNull();
      // The report (IPC) and the log line (stdout) travel on different pipes: waited for, not raced.
      await waitFor('the retirement logged', 5_000, () =>
        victim.stdout().includes('agent retired') ? true : undefined,
      );
      victim.child.kill('SIGTERM');
      expect((await victim.exited).code).toBe(0);

      const again = spawnXemAgent({
        routerUrl: router.url,
        joinKey: spent,
        name: 'xem-replaced',
        dir: victimDir,
        intervalMs: INTERVAL_MS,
      });
      started.push(again);
      const stillRetired = await retiredReport(again);
      expect(stillRetired.reason).toContain('the configured join key was refused');
      expect(again.child.exitCode).toBeNull();
      again.child.kill('SIGTERM');
      expect((await again.exited).code).toBe(0);
      expect(await agentStatus(router.pool, victimId)).toBe('superseded');
    } finally {
      rmSync(victimDir, { recursive: true, force: true });
    }
  });

  it('re-enrolls a revoked agent by an operator action alone: a key bound to its name, a restart, its volume kept', async () => {
    const hostDir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'agent-e2e-reenroll-'));
    try {
      const first = spawnXemAgent({
        routerUrl: router.url,
        joinKey: await router.mintJoinKey(),
        name: 'xem-rebuilt',
        dir: hostDir,
        intervalMs: INTERVAL_MS,
      });
      started.push(first);
      const oldId = await agentId(first);
      await waitFor('active', 10_000, statusIs(oldId, 'active'));
      const curveKey = readFileSync(join(hostDir, 'curve.hex'), 'utf8');
      // The operator revokes it (a suspected compromise, say, now cleared)…
      const api = (method: string, url: string, payload?: object) =>
        router.app.inject({
          method: method as 'POST',
          url: `/${router.project.project.id}/v1/management${url}`,
          headers: bearer(router.project.adminKey),
          ...(payload ? { payload } : {}),
        });
      expect((await api('POST', `/agents/${oldId}/revoke-credentials`)).statusCode).toBe(200);
      await retiredReport(first);
      first.child.kill('SIGTERM');
      await first.exited;
      // …and brings it back: a key bound to that one name, allowed to replace it, then a restart with the same volume.
      const minted = await api('POST', '/join-keys', {
        role: 'xem',
        name: 'xem-rebuilt again',
        registration_name: 'xem-rebuilt',
        allow_replace: true,
      });
      const again = spawnXemAgent({
        routerUrl: router.url,
        joinKey: minted.json().key,
        name: 'xem-rebuilt',
        dir: hostDir,
        intervalMs: INTERVAL_MS,
      });
      started.push(again);
      const newId = await agentId(again);
      await waitFor('active again', 10_000, statusIs(newId, 'active'));
      expect(newId).not.toBe(oldId);
      expect(readFileSync(join(hostDir, 'curve.hex'), 'utf8')).toBe(curveKey);
      // Revoked stays revoked: the old identity's tokens never work again.
      expect(await agentStatus(router.pool, oldId)).toBe('revoked');
      again.child.kill('SIGTERM');
      expect((await again.exited).code).toBe(0);
    } finally {
      rmSync(hostDir, { recursive: true, force: true });
    }
  });

  it('refuses to start when required settings are missing, naming them', async () => {
    const run = spawnGroup(process.execPath, ['--import', 'tsx', 'services/xem-agent/main.ts'], cleanEnv());
    expect((await run.exited).code).toBe(78);
    expect(run.stderr()).toContain('missing required xem-agent settings: router_url, join_key, registration_name');
  });
});

describe('an agent down longer than its token lives comes back by proving its enrolled key', () => {
  let router: RouterHarness;
  const dir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'agent-e2e-reauth-'));
  const runs: Spawned[] = [];
  beforeAll(async () => {
    router = await startRouterHarness({
      leaseRenewalIntervalMs: INTERVAL_MS,
      heartbeatTimeoutMs: TIMEOUT_MS,
      env: { XEROTIER_AGENT_TOKEN_TTL_SECONDS: '5' },
    });
  });
  afterAll(async () => {
    for (const run of runs) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await router.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('restarts after its token expired, with the spent join key still configured, and is active again without a new key', async () => {
    const joinKey = await router.mintJoinKey();
    const start = () => {
      const run = spawnXemAgent({ routerUrl: router.url, joinKey, name: 'xem-sleeper', dir, intervalMs: INTERVAL_MS });
      runs.push(run);
      return run;
    };
    const first = start();
    const id = await new Promise<string>((resolve) =>
      first.child.once('message', (message: { agent_id: string }) => resolve(message.agent_id)),
    );
    await waitFor('active', 10_000, async () => ((await agentStatus(router.pool, id)) === 'active' ? true : undefined));
    first.child.kill('SIGKILL');
    await first.exited;
    // Down until the token it kept has run out (5 s tokens): a refresh can no longer help.
    const expiresAt = new Date(loadEnrollment(join(dir, 'enrollment.json'))!.expires_at).getTime();
    await waitFor('the kept token to expire', 15_000, () => (Date.now() > expiresAt + 1_000 ? true : undefined));
    const refused = await router.app.inject({
      method: 'POST',
      url: '/v1/enroll/refresh',
      headers: bearer(loadEnrollment(join(dir, 'enrollment.json'))!.token),
    });
    expect(refused.json().error.code).toBe('invalid_token');

    const second = start();
    expect(
      await new Promise<string>((resolve) =>
        second.child.once('message', (message: { agent_id: string }) => resolve(message.agent_id)),
      ),
    ).toBe(id);
    const restartedAt = Date.now();
    await waitFor('a renewal after the restart', 15_000, async () => {
      const row = (
        await router.pool.query<{ last_heartbeat: Date | null; status: string }>(
          'SELECT last_heartbeat, status FROM agents WHERE id = $1',
          [id],
        )
      ).rows[0]!;
      return row.status === 'active' && row.last_heartbeat && row.last_heartbeat.getTime() >= restartedAt - 500
        ? true
        : undefined;
    });
    const events = await router.pool.query<{ event: string }>(
      "SELECT event FROM execution_audit_log WHERE subject = $1 AND event IN ('agent.enrolled', 'agent.reauthenticated')",
      [id],
    );
    expect(events.rows.map((row) => row.event).sort()).toEqual(['agent.enrolled', 'agent.reauthenticated']);
    expect(second.stdout()).not.toContain('agent retired');
  });

  it('refuses a challenge answered with any key but the enrolled one, and a challenge used twice', async () => {
    const peer = await router.enrollPeer('xem-challenged');
    const ask = async () =>
      (
        await router.app.inject({ method: 'POST', url: '/v1/enroll/challenge', payload: { agent_id: peer.agentId } })
      ).json() as { nonce: string };
    const answer = (nonce: string, key = peer.signing) =>
      router.app.inject({
        method: 'POST',
        url: '/v1/enroll/reauthenticate',
        payload: { agent_id: peer.agentId, nonce, signature: signChallenge(peer.agentId, nonce, key) },
      });
    const forged = await answer((await ask()).nonce, generateSigningKeyPair());
    expect(forged.statusCode).toBe(401);
    expect(forged.json().error.code).toBe('reauthentication_failed');
    const { nonce } = await ask();
    expect((await answer(nonce)).statusCode).toBe(200);
    expect((await answer(nonce)).json().error.code).toBe('reauthentication_failed');
    await router.app.inject({
      method: 'POST',
      url: `/${router.project.project.id}/v1/management/agents/${peer.agentId}/revoke-credentials`,
      headers: bearer(router.project.adminKey),
    });
    expect((await answer((await ask()).nonce)).json().error.code).toBe('agent_revoked');
  });
});
