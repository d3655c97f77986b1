import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { bearer } from '../helpers/fixtures.js';
import {
  cleanEnv,
  LOOPBACK_ROUTER_ENV,
  nextMessage,
  routerSecretsEnv,
  spawnGroup,
  spawnXemAgent,
  waitFor,
  type Spawned,
  acmeBootstrapEnv,
} from '../helpers/processes.js';

const SLEEP_BUNDLE = {
  name: 'sleepy',
  version: '1',
  domain: 'test',
  tools: [
    {
      name: 'sleep_for',
      description: 'Sleep',
      risk: 'read',
      timeout_ms: 60_000,
      command: { argv: ['sleep', '{{seconds}}'] },
      parameters: {
        type: 'object',
        properties: { seconds: { type: 'string', pattern: '^[0-9]+$' } },
        required: ['seconds'],
        additionalProperties: false,
      },
    },
    {
      name: 'wipe_everything',
      description: 'Pretends to be dangerous',
      risk: 'irreversible',
      timeout_ms: 10_000,
      command: { argv: ['true'] },
      parameters: { type: 'object', properties: {}, additionalProperties: false },
    },
  ],
};

describe('a router killed while a call runs', () => {
  let db: TestDatabase;
  let router: Spawned;
  let agent: Spawned;
  let env: NodeJS.ProcessEnv;
  let url: string;
  let meshEndpoint: string;
  const secret = randomBytes(32).toString('base64url');
  const adminKey = `xero_acme_${secret}`;
  const dir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'router-crash-'));

  const startRouter = async (overrides: Record<string, string> = {}) => {
    router = spawnGroup(
      process.execPath,
      ['--import', 'tsx', 'services/router/main.ts'],
      { ...env, ...overrides },
      true,
    );
    return nextMessage<{ http_url: string; mesh_endpoint: string }>(router.child);
  };
  const call =
    (surface: string) =>
    (path: string, init: RequestInit = {}) =>
      fetch(`${url}/acme/v1/${surface}${path}`, {
        ...init,
        headers: { ...bearer(adminKey), 'content-type': 'application/json', ...init.headers },
      });
  const api = call('management');
  const exec = call('exec');
  let workspace: string;
  let agentId: string;
  let agentMetrics: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = cleanEnv({
      ...routerSecretsEnv(),
      ...LOOPBACK_ROUTER_ENV,
      XEROTIER_DATABASE_URL: db.url,
      ...acmeBootstrapEnv(secret),
      XEROTIER_ROUTER_LEASE_RENEWAL_INTERVAL_MS: '1000',
      // Generous: a restarted router under a loaded test run must not declare the agent lost before it reconnects.
      XEROTIER_ROUTER_HEARTBEAT_TIMEOUT_MS: '15000',
    });
    const first = await startRouter();
    url = first.http_url;
    meshEndpoint = first.mesh_endpoint;
    mkdirSync(join(dir, 'tools', 'sleepy'), { recursive: true });
    writeFileSync(join(dir, 'tools', 'sleepy', 'bundle.yaml'), stringify(SLEEP_BUNDLE));
    workspace = (
      (await (await api('/workspaces')).json()) as { data: { id: string; is_default: boolean }[] }
    ).data.find((row) => row.is_default)!.id;
    mkdirSync(join(dir, 'credentials', workspace), { recursive: true });
    const joinKey = (
      (await (
        await api('/join-keys', { method: 'POST', body: JSON.stringify({ role: 'xem', name: 'crash' }) })
      ).json()) as { key: string }
    ).key;
    agent = spawnXemAgent({ routerUrl: url, joinKey, name: 'xem-crash', dir });
    ({ agent_id: agentId, metrics_url: agentMetrics } = await nextMessage<{ agent_id: string; metrics_url: string }>(
      agent.child,
    ));
    await waitFor(
      'the agent active',
      15_000,
      async () =>
        ((await (await api(`/agents/${agentId}`)).json()) as { status: string }).status === 'active' || undefined,
    );
    expect(
      (await api(`/workspaces/${workspace}/bindings`, { method: 'POST', body: JSON.stringify({ agent_id: agentId }) }))
        .status,
    ).toBe(201);
  }, 60_000);
  // Each case kills the router and starts it again: the next begins once the agent is back on it.
  beforeEach(async () => {
    await waitFor(
      'the tools served by an online agent',
      20_000,
      async () =>
        ((await (await exec('/tools/sleep_for')).json()) as { online_agents?: number }).online_agents === 1 ||
        undefined,
    );
  }, 30_000);
  afterAll(async () => {
    for (const run of [agent, router])
      if (run && run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid!, 'SIGKILL');
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets the result after its restart, recorded once', async () => {
    const created = await exec('/invocations', {
      method: 'POST',
      body: JSON.stringify({ tool: 'sleep_for', args: { seconds: '2' } }),
    });
    expect(created.status).toBe(201);
    const { id: invocationId } = (await created.json()) as { id: string };
    await waitFor(
      'the call running',
      10_000,
      async () =>
        ((await (await exec(`/invocations/${invocationId}`)).json()) as { state: string }).state === 'running' ||
        undefined,
    );

    process.kill(-router.child.pid!, 'SIGKILL');
    await router.exited;
    // The same addresses again, as a restarted pod behind the same service would have.
    await startRouter({ XEROTIER_HTTP_PORT: new URL(url).port, XEROTIER_MESH_BIND: meshEndpoint });

    const result = await waitFor('the result', 20_000, async () => {
      const body = (await (await exec(`/invocations/${invocationId}`)).json()) as {
        state: string;
        agent_id: string;
        attempt: number;
      };
      return body.state === 'running' ? undefined : body;
    });
    expect(result).toMatchObject({ state: 'succeeded', agent_id: agentId, attempt: 1 });
    // Every frame acknowledged: the agent resends nothing more, so the count is final.
    await waitFor("the agent's outbox empty", 10_000, async () =>
      /^xerotier_xem_outbox_pending(\{[^}]*\})? 0$/m.test(await (await fetch(agentMetrics)).text()) ? true : undefined,
    );
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const rows = await client.query('SELECT count(*)::int AS n FROM exec_results WHERE invocation_id = $1', [
      invocationId,
    ]);
    await client.end();
    expect(rows.rows[0].n).toBe(1);
  });

  it('still expires an approval whose deadline passed while the router was dead', async () => {
    expect(
      (
        await api(`/approval-policies/${workspace}`, {
          method: 'PATCH',
          body: JSON.stringify({ timeout_seconds_irreversible: 3 }),
        })
      ).status,
    ).toBe(200);
    const created = (await (
      await exec('/invocations', { method: 'POST', body: JSON.stringify({ tool: 'wipe_everything', args: {} }) })
    ).json()) as { id: string; state: string; approval_id: string };
    expect(created.state).toBe('pending_approval');
    process.kill(-router.child.pid!, 'SIGKILL');
    await router.exited;
    // The deadline passes while no router runs (the database's clock is the one approvals use).
    await waitFor('the approval deadline past', 10_000, async () => {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const due = await client
        .query<{ due: boolean }>('SELECT expires_at < now() AS due FROM approvals WHERE id = $1', [created.approval_id])
        .finally(() => client.end());
      return due.rows[0]?.due ? true : undefined;
    });
    await startRouter({ XEROTIER_HTTP_PORT: new URL(url).port, XEROTIER_MESH_BIND: meshEndpoint });
    const ended = await waitFor('the expiry', 10_000, async () => {
      const body = (await (await exec(`/invocations/${created.id}`)).json()) as { state: string; attempt: number };
      return body.state === 'pending_approval' ? undefined : body;
    });
    expect(ended).toMatchObject({ state: 'expired', attempt: 0 });
    const approval = (await (await exec(`/approvals/${created.approval_id}`)).json()) as { state: string };
    expect(approval.state).toBe('expired');
  });
});
