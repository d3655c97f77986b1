import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { cleanEnv, groupAlive, httpStatus, spawnGroup, waitFor, type Spawned } from '../helpers/processes.js';

const devDir = join(REPO_ROOT, '.xerotier', `test-devstack-${process.pid}`);
const stackFile = join(devDir, 'stack.json');

interface StackJson {
  frontend_url: string;
  router_url: string;
  project_id: string;
  workspace_id: string;
  admin_api_key: string;
  admin_email: string;
  admin_password: string;
  agents: { role: string; name: string; agent_id: string; status: string }[];
  mesh_endpoint: string;
  metrics_urls: Record<string, string>;
  database_url: string;
}

/** `npm start` as a new user runs it: no XEROTIER_* settings, so embedded Postgres. */
async function startStack(): Promise<{ run: Spawned; stack: StackJson }> {
  const env = cleanEnv({
    XEROTIER_DEV_DIR: devDir,
    XEROTIER_HTTP_PORT: '0',
    XEROTIER_ROUTER_METRICS_PORT: '0',
    XEROTIER_XEM_METRICS_PORT: '0',
    XEROTIER_MESH_BIND: 'tcp://127.0.0.1:*',
    XEROTIER_DEV_QUIET: '1',
    // Short agent tokens: the second start below comes after they have all run out.
    XEROTIER_AGENT_TOKEN_TTL_SECONDS: '5',
  });
  const run = spawnGroup('npm', ['start'], env);
  const stack = await waitFor('stack.json', 30_000, () =>
    existsSync(stackFile) ? (JSON.parse(readFileSync(stackFile, 'utf8')) as StackJson) : undefined,
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n--- npm start stderr ---\n${run.stderr().slice(-4_000)}`);
  });
  await waitFor('/readyz 200', 30_000, async () =>
    (await httpStatus(`${stack.router_url}/readyz`)) === 200 ? true : undefined,
  );
  return { run, stack };
}

/** Ctrl-C: SIGINT to the whole foreground process group, as a terminal sends it. */
async function interrupt(run: Spawned): Promise<void> {
  process.kill(-run.child.pid!, 'SIGINT');
  await run.exited;
  await waitFor('every process of the stack to exit', 30_000, () => (groupAlive(run.child.pid!) ? undefined : true));
}

describe('npm start (devstack)', () => {
  afterAll(() => {
    // The cluster may live behind a symlink when the checkout is not traversable by postgres.
    const pgData = join(devDir, 'pg');
    if (existsSync(pgData)) rmSync(realpathSync(pgData), { recursive: true, force: true });
    rmSync(devDir, { recursive: true, force: true });
  });

  it('boots embedded Postgres and the router, writes stack.json, stops cleanly on Ctrl-C and reuses its data', async () => {
    const first = await startStack();
    try {
      expect(statSync(stackFile).mode & 0o777).toBe(0o600);
      expect(first.stack.mesh_endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(first.stack.metrics_urls['router']!)).status).toBe(200);
      expect(first.run.stdout()).toContain('Xerotier dev stack is up');
      expect(first.stack.agents).toEqual([
        expect.objectContaining({ role: 'xem', name: 'dev-xem', status: 'active' }),
        expect.objectContaining({ role: 'xim', name: 'dev-xim', status: 'active' }),
      ]);
      const agents = await fetch(`${first.stack.router_url}/${first.stack.project_id}/v1/management/agents`, {
        headers: { authorization: `Bearer ${first.stack.admin_api_key}` },
      });
      expect(((await agents.json()) as { data: { id: string; status: string }[] }).data).toEqual(
        expect.arrayContaining(
          first.stack.agents.map((agent): unknown => expect.objectContaining({ id: agent.agent_id, status: 'active' })),
        ),
      );
      // The dev admin is a person who can sign in with the password the stack file names.
      const signIn = await fetch(`${first.stack.router_url}/v1/auth/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          method: 'password',
          email: first.stack.admin_email,
          password: first.stack.admin_password,
          project: first.stack.project_id,
        }),
      });
      expect([signIn.status, first.stack.admin_email]).toEqual([201, 'admin@localhost']);
      // The web UI is up beside it, and signs the same person in (a session cookie, then the chat page).
      expect(first.run.stdout()).toContain(first.stack.frontend_url);
      const signedIn = await fetch(`${first.stack.frontend_url}/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: first.stack.frontend_url },
        body: new URLSearchParams({ email: first.stack.admin_email, password: first.stack.admin_password }),
        redirect: 'manual',
      });
      expect([signedIn.status, signedIn.headers.get('location')]).toEqual([303, '/chat']);
      expect(signedIn.headers.get('set-cookie')).toMatch(/^xerotier_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax/);
      const session = ((await signIn.json()) as { key: string }).key;
      const routerLog = readFileSync(join(devDir, 'logs', 'router.log'), 'utf8');
      expect(routerLog).not.toContain(first.stack.admin_password);
      expect(routerLog).not.toContain(session);
      // The endpoint `default` answers OpenAI clients from the scripted engine, labelled as such.
      const openai = new OpenAI({
        apiKey: first.stack.admin_api_key,
        baseURL: `${first.stack.router_url}/${first.stack.project_id}/default/v1`,
        maxRetries: 0,
      });
      expect((await openai.models.list()).data).toEqual([
        expect.objectContaining({ id: 'scripted/tiny-chat', scripted: true, available: true }),
      ]);
      expect((await openai.responses.create({ input: 'Is this real?' })).output_text).toBe(
        'This is a scripted answer to: "Is this real?".',
      );
      const client = new pg.Client({ connectionString: first.stack.database_url });
      await client.connect();
      // The dev agent serves the default workspace with the sample bundles and real credentials.
      const manifest = await waitFor(
        "the dev agent's manifest",
        10_000,
        async () =>
          (
            await client.query<{ manifest: { workspaces: string[]; tools: { name: string }[] } | null }>(
              'SELECT manifest FROM agents WHERE id = $1',
              [first.stack.agents[0]!.agent_id],
            )
          ).rows[0]?.manifest ?? undefined,
      );
      expect(manifest.workspaces).toEqual([first.stack.workspace_id]);
      expect(manifest.tools.map((tool) => tool.name)).toEqual(
        expect.arrayContaining(['pg_list_databases', 'kubectl_get', 'host_uptime']),
      );
      // And the exec API runs them there: the agent is bound to the default workspace.
      const exec = (path: string, init: RequestInit = {}) =>
        fetch(`${first.stack.router_url}/${first.stack.project_id}/v1/exec${path}`, {
          ...init,
          headers: { authorization: `Bearer ${first.stack.admin_api_key}`, 'content-type': 'application/json' },
        });
      const created = (await (
        await exec('/invocations', { method: 'POST', body: JSON.stringify({ tool: 'pg_list_databases', args: {} }) })
      ).json()) as { id: string };
      const finished = await waitFor('the dev agent to run pg_list_databases', 15_000, async () => {
        const current = (await (await exec(`/invocations/${created.id}`)).json()) as { state: string };
        return ['queued', 'dispatched', 'running'].includes(current.state) ? undefined : current;
      });
      expect(finished).toMatchObject({ state: 'succeeded', agent_id: first.stack.agents[0]!.agent_id });
      // The router connects as the app role, which cannot rewrite the audit log.
      const roles = await client.query<{ usename: string }>(
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = 'xerotier-router'",
      );
      expect(roles.rows.map((row) => row.usename)).toEqual(['xerotier_app']);

      // A dev agent that dies is started again, and calls made meanwhile still run.
      // Services run in their own process groups: find this stack's agent by what it was started with.
      const agentPid = () => {
        const found = spawnSync('pgrep', ['-f', 'services/xem-agent/main.ts'], { encoding: 'utf8' })
          .stdout.trim()
          .split('\n')
          .filter(Boolean)
          .map(Number);
        const ours = found.filter((pid) => {
          try {
            return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(devDir);
          } catch {
            return false;
          }
        });
        return ours.length === 1 ? ours[0] : undefined;
      };
      const crashed = await waitFor('the dev XEM agent process', 5_000, agentPid);
      process.kill(crashed, 'SIGKILL');
      const afterCrash = (await (
        await exec('/invocations', { method: 'POST', body: JSON.stringify({ tool: 'pg_list_databases', args: {} }) })
      ).json()) as { id: string };
      const rerun = await waitFor('the call after the agent restarted', 60_000, async () => {
        const current = (await (await exec(`/invocations/${afterCrash.id}`)).json()) as { state: string };
        return ['queued', 'dispatched', 'running'].includes(current.state) ? undefined : current;
      });
      expect(rerun).toMatchObject({ state: 'succeeded', agent_id: first.stack.agents[0]!.agent_id });
      expect(agentPid()).not.toBe(crashed);
      expect(first.run.stderr()).toContain('a dev agent exited; starting it again');
      await client.query(
        "INSERT INTO projects (id, slug, name) VALUES ('proj_devmarker', 'marker', 'kept across restarts')",
      );
      await client.end();
    } finally {
      await interrupt(first.run);
    }
    expect(first.run.stderr()).toContain('dev stack stopped');
    expect(first.run.stderr()).not.toMatch(/"level":"error"/);
    expect(existsSync(stackFile)).toBe(false);
    expect(existsSync(join(devDir, 'pg', 'postmaster.pid'))).toBe(false);

    // Restarted after the agents' tokens expired: they prove their enrolled keys instead.
    const expiries = ['xem', 'xim'].map((role) =>
      new Date(
        (JSON.parse(readFileSync(join(devDir, role, 'enrollment.json'), 'utf8')) as { expires_at: string }).expires_at,
      ).getTime(),
    );
    await waitFor("the dev agents' tokens to expire", 15_000, () =>
      Date.now() > Math.max(...expiries) + 1_000 ? true : undefined,
    );
    const second = await startStack();
    // (first.stack is kept for comparing identities across the restart)
    try {
      const client = new pg.Client({ connectionString: second.stack.database_url });
      await client.connect();
      const kept = await client.query("SELECT name FROM projects WHERE id = 'proj_devmarker'");
      await client.end();
      expect(kept.rows).toEqual([{ name: 'kept across restarts' }]);
      expect(second.run.stderr()).toContain('schema up to date');
      expect(second.stack.agents.map((agent) => [agent.agent_id, agent.status])).toEqual(
        first.stack.agents.map((agent) => [agent.agent_id, 'active']),
      );
      expect(second.stack.admin_api_key).toBe(first.stack.admin_api_key);
    } finally {
      await interrupt(second.run);
    }
    expect(second.run.stderr()).toContain('dev stack stopped');
  });
});
