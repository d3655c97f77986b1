import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { createPool, type Pool } from '../../services/router/store/pool.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { bearer } from '../helpers/fixtures.js';
import { silentLogger } from '../helpers/logger.js';
import {
  cleanEnv,
  LOOPBACK_ROUTER_ENV,
  nextMessage,
  readSse,
  routerSecretsEnv,
  spawnRouterProcess,
  spawnXemAgent,
  waitFor,
  type Spawned,
  acmeBootstrapEnv,
} from '../helpers/processes.js';

const BUNDLE = {
  name: 'quick',
  version: '1',
  domain: 'test',
  tools: [
    {
      name: 'noop',
      description: 'Do nothing',
      risk: 'read',
      timeout_ms: 30_000,
      parameters: { type: 'object', properties: { n: { type: 'integer' } }, additionalProperties: false },
      command: { argv: ['true'] },
    },
    {
      name: 'tick',
      description: 'Print, sleep, print',
      risk: 'read',
      timeout_ms: 30_000,
      parameters: { type: 'object', properties: {}, additionalProperties: false },
      command: { argv: ['sh', '-c', 'echo tick; sleep 1; echo tock'] },
    },
  ],
};
const CALLS = 1_000;

describe('two router processes on one database', () => {
  let db: TestDatabase;
  let pool: Pool;
  const routers: { run: Spawned; http_url: string }[] = [];
  const agents: Spawned[] = [];
  const secret = randomBytes(32).toString('base64url');
  const key = `xero_acme_${secret}`;
  const dirs: string[] = [];
  let workspace: string;

  const api = (router: number, path: string, init: RequestInit = {}) =>
    fetch(`${routers[router]!.http_url}/acme/v1${path}`, {
      ...init,
      headers: { ...bearer(key), 'content-type': 'application/json', ...init.headers },
    });
  const json = async <T>(response: Promise<Response>) => (await (await response).json()) as T;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 4, logger: silentLogger() });
    const env = cleanEnv({
      ...routerSecretsEnv(),
      ...LOOPBACK_ROUTER_ENV,
      XEROTIER_DATABASE_URL: db.url,
      ...acmeBootstrapEnv(secret),
      XEROTIER_API_RATE_LIMIT_RPM: '0',
      XEROTIER_ROUTER_LEASE_RENEWAL_INTERVAL_MS: '1000',
      XEROTIER_LOG_LEVEL: 'warning',
    });
    // One after the other: both run migrations and bootstrap, which must be idempotent anyway.
    for (let index = 0; index < 2; index += 1) routers.push(await spawnRouterProcess(env));
    workspace = (
      await json<{ data: { id: string; is_default: boolean }[] }>(api(0, '/management/workspaces'))
    ).data.find((row) => row.is_default)!.id;
    // One XEM agent enrolled through (and connected to) each router.
    for (let index = 0; index < 2; index += 1) {
      const dir = mkdtempSync(join(REPO_ROOT, '.xerotier', `two-routers-${index}-`));
      dirs.push(dir);
      mkdirSync(join(dir, 'tools', 'quick'), { recursive: true });
      writeFileSync(join(dir, 'tools', 'quick', 'bundle.yaml'), stringify(BUNDLE));
      mkdirSync(join(dir, 'credentials', workspace), { recursive: true });
      const joinKey = (
        await json<{ key: string }>(
          api(index, '/management/join-keys', {
            method: 'POST',
            body: JSON.stringify({ role: 'xem', name: `xem-${index}` }),
          }),
        )
      ).key;
      const agent = spawnXemAgent({
        routerUrl: routers[index]!.http_url,
        joinKey,
        name: `xem-two-${index}`,
        dir,
        env: { XEM_MAX_CONCURRENT_EXECUTIONS: '64' },
      });
      agents.push(agent);
      const { agent_id: agentId } = await nextMessage<{ agent_id: string }>(agent.child);
      expect(
        (
          await api(index, `/management/workspaces/${workspace}/bindings`, {
            method: 'POST',
            body: JSON.stringify({ agent_id: agentId }),
          })
        ).status,
      ).toBe(201);
    }
    await waitFor('both agents online for noop', 20_000, async () =>
      (await json<{ online_agents?: number }>(api(1, '/exec/tools/noop'))).online_agents === 2 ? true : undefined,
    );
  }, 120_000);
  afterAll(async () => {
    for (const run of [...agents, ...routers.map((router) => router.run)])
      if (run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid!, 'SIGKILL');
    await pool?.end();
    await db?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it(`dispatches each of ${CALLS} concurrent invocations exactly once, sharing the queue`, async () => {
    const created = await Promise.all(
      Array.from({ length: CALLS }, (_, n) =>
        json<{ id: string; state: string }>(
          api(n % 2, '/exec/invocations', { method: 'POST', body: JSON.stringify({ tool: 'noop', args: { n } }) }),
        ),
      ),
    );
    expect(created.every((row) => row.state === 'queued')).toBe(true);
    const ids = created.map((row) => row.id);
    await waitFor('every call finished', 120_000, async () => {
      const open = await pool.query(
        "SELECT count(*)::int AS n FROM invocations WHERE id = ANY($1) AND state NOT IN ('succeeded', 'failed', 'timed_out', 'cancelled')",
        [ids],
      );
      return open.rows[0].n === 0 ? true : undefined;
    });
    const states = await pool.query<{ state: string; attempt: number; n: number }>(
      'SELECT state, attempt, count(*)::int AS n FROM invocations WHERE id = ANY($1) GROUP BY state, attempt',
      [ids],
    );
    expect(states.rows).toEqual([{ state: 'succeeded', attempt: 1, n: CALLS }]);
    const twice = await pool.query(
      "SELECT subject FROM execution_audit_log WHERE event = 'invocation.dispatched' AND subject = ANY($1) GROUP BY subject HAVING count(*) <> 1",
      [ids],
    );
    expect(twice.rows).toEqual([]);
    const results = await pool.query(
      'SELECT invocation_id FROM exec_results WHERE invocation_id = ANY($1) GROUP BY invocation_id HAVING count(*) <> 1',
      [ids],
    );
    expect(results.rows).toEqual([]);
    expect(
      (await pool.query('SELECT count(*)::int AS n FROM exec_results WHERE invocation_id = ANY($1)', [ids])).rows[0].n,
    ).toBe(CALLS);
    const perAgent = await pool.query<{ n: number }>(
      'SELECT agent_id, count(*)::int AS n FROM invocations WHERE id = ANY($1) GROUP BY agent_id',
      [ids],
    );
    process.stdout.write(`calls per agent: ${perAgent.rows.map((row) => row.n).join(' / ')}\n`);
    expect(perAgent.rows).toHaveLength(2);
    expect((await json<{ ok: boolean }>(api(0, '/management/audit/verify'))).ok).toBe(true);
  });

  it("streams an invocation's events to a client of either router, whichever holds the agent", async () => {
    const created = await json<{ id: string }>(
      api(0, '/exec/invocations', { method: 'POST', body: JSON.stringify({ tool: 'tick', args: {} }) }),
    );
    const isEnd = (event: { event: string; data: unknown }) =>
      event.event === 'state' && (event.data as { state: string }).state === 'succeeded';
    const streams = await Promise.all(
      routers.map((router) =>
        readSse(`${router.http_url}/acme/v1/exec/invocations/${created.id}/events`, bearer(key), isEnd),
      ),
    );
    for (const events of streams) {
      const states = events
        .filter((event) => event.event === 'state')
        .map((event) => (event.data as { state: string }).state);
      expect(states.at(-1)).toBe('succeeded');
      expect(states).toContain('running');
      const output = events
        .filter((event) => event.event === 'progress')
        .map((event) => (event.data as { data: string }).data)
        .join('');
      expect(output).toContain('tick');
    }
  });
});
