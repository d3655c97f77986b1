import { randomBytes } from 'node:crypto';
import { requestHash, type Risk } from '../../services/protocol/request-hash.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { makeFrame } from '../../services/protocol/frame.js';
import { findExecResult, fullOutput, type ExecResultRecord } from '../../services/router/store/exec-results.js';
import { bearer } from '../helpers/fixtures.js';
import { spawnXemAgent, waitFor, type Spawned } from '../helpers/processes.js';
import { startRouterHarness, type RouterHarness } from '../helpers/router-harness.js';

const WORKSPACE = 'ws_0123456789ab';
const CANARY = `canary-${Date.now()}-s3cr3t`;

const BUNDLE = {
  name: 'testkit',
  version: '1',
  domain: 'test',
  tools: [
    {
      name: 'echo_text',
      description: 'Echo a text',
      risk: 'read',
      timeout_ms: 10_000,
      parameters: {
        type: 'object',
        properties: { text: { type: 'string', maxLength: 200 } },
        required: ['text'],
        additionalProperties: false,
      },
      command: { argv: ['echo', '{{text}}'] },
    },
    {
      name: 'sleep_for',
      description: 'Sleep',
      risk: 'read',
      timeout_ms: 60_000,
      parameters: {
        type: 'object',
        properties: { seconds: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?$' } },
        required: ['seconds'],
        additionalProperties: false,
      },
      command: { argv: ['sleep', '{{seconds}}'] },
    },
    {
      name: 'count_to',
      description: 'Print the numbers up to n',
      risk: 'read',
      timeout_ms: 10_000,
      parameters: {
        type: 'object',
        properties: { n: { type: 'string', pattern: '^[0-9]{1,7}$' } },
        required: ['n'],
        additionalProperties: false,
      },
      command: { argv: ['seq', '{{n}}'] },
    },
    {
      name: 'show_secret',
      description: 'Print the database password',
      risk: 'read',
      timeout_ms: 10_000,
      credentials_ref: 'db.env',
      parameters: { type: 'object', properties: {}, additionalProperties: false },
      command: { argv: ['printenv', 'DB_PASSWORD'] },
    },
    {
      name: 'purge_cache',
      description: 'Destroys a cache',
      risk: 'destructive',
      timeout_ms: 10_000,
      parameters: {
        type: 'object',
        properties: { name: { type: 'string', pattern: '^[a-z]+$' } },
        required: ['name'],
        additionalProperties: false,
      },
      command: { argv: ['echo', 'purged', '{{name}}'] },
    },
  ],
};

describe('XEM agent process: executes dispatched calls and reports each result exactly once', () => {
  let router: RouterHarness;
  const dir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'xem-exec-'));
  const runs: Spawned[] = [];
  const accepted = new Map<string, number>();
  const progress = new Map<string, string>();
  const endings = new Map<string, string>();
  let agentId: string;
  let current: Spawned;
  let joinKey: string;

  beforeAll(async () => {
    router = await startRouterHarness({
      leaseRenewalIntervalMs: 1_000,
      heartbeatTimeoutMs: 5_000,
      execEvents: {
        accepted: (_, id) => accepted.set(id, (accepted.get(id) ?? 0) + 1),
        progress: (_, id, __, data, stream) =>
          stream === 'status' ? endings.set(id, data) : progress.set(id, (progress.get(id) ?? '') + data),
      },
    });
    await router.pool.query("INSERT INTO workspaces (id, project_id, name) VALUES ($1, $2, 'xem-exec')", [
      WORKSPACE,
      router.project.project.id,
    ]);
    mkdirSync(join(dir, 'tools', 'testkit'), { recursive: true });
    writeFileSync(join(dir, 'tools', 'testkit', 'bundle.yaml'), stringify(BUNDLE));
    mkdirSync(join(dir, 'credentials', WORKSPACE), { recursive: true });
    writeFileSync(join(dir, 'credentials', WORKSPACE, 'db.env'), `DB_PASSWORD=${CANARY}\n`, { mode: 0o600 });
    joinKey = await router.mintJoinKey();
    current = start();
    agentId = await agentIdOf(current);
    await waitFor('agent bound', 10_000, () => (router.mesh.server.connections.routingOf(agentId) ? true : undefined));
  });
  afterAll(async () => {
    for (const run of runs) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await router.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Restarts pass the spent join key too, as a deployment would: the persisted enrollment wins.
  function start(): Spawned {
    const run = spawnXemAgent({
      routerUrl: router.url,
      joinKey,
      name: 'xem-exec',
      dir,
      env: { XEM_MAX_CONCURRENT_EXECUTIONS: '1', XEM_SHUTDOWN_GRACE_SECONDS: '2' },
    });
    runs.push(run);
    return run;
  }
  let metricsUrl = '';
  const outboxPending = async () =>
    Number(
      /^xerotier_xem_outbox_pending(?:\{[^}]*\})? (\d+)$/m.exec(await (await fetch(metricsUrl)).text())?.[1] ?? NaN,
    );
  const agentIdOf = (run: Spawned) =>
    new Promise<string>((resolve) =>
      run.child.once('message', (message: { agent_id: string; metrics_url: string }) => {
        metricsUrl = message.metrics_url;
        resolve(message.agent_id);
      }),
    );
  /**
   * A dispatch as the router's dispatcher makes one, straight onto the mesh: the invocation row
   * first (attempt 1, this agent), since the router takes reports only from the attempt's holder.
   */
  const dispatch = (
    tool: string,
    args: Record<string, unknown>,
    options: { timeoutMs?: number; risk?: Risk; requestHash?: string } = {},
  ) => {
    const invocationId = `inv_${randomBytes(12).toString('hex')}`;
    const request_hash = options.requestHash ?? requestHash({ tool, args, workspace_id: WORKSPACE });
    const risk = options.risk ?? 'read';
    const frame = makeFrame('exec.dispatch', {
      invocation_id: invocationId,
      attempt: 1,
      tool,
      workspace_id: WORKSPACE,
      risk,
      args,
      request_hash,
      timeout_ms: options.timeoutMs ?? 30_000,
      not_after: Date.now() + 60_000,
    });
    const sent = router.pool
      .query(
        `INSERT INTO invocations (id, project_id, workspace_id, tool, risk, args, request_hash, requested_by, state, attempt, agent_id, timeout_ms, dispatched_at)
       VALUES ($1, $2, $3, $4, $9, $5, $6, 'test', 'dispatched', 1, $7, $8, now())`,
        [
          invocationId,
          router.project.project.id,
          WORKSPACE,
          tool,
          args,
          request_hash,
          agentId,
          options.timeoutMs ?? 30_000,
          risk,
        ],
      )
      .then(() => router.mesh.server.send(agentId, frame));
    return { invocationId, frame, sent };
  };
  const resultOf = (invocationId: string, timeoutMs = 10_000) =>
    waitFor<ExecResultRecord>(`result of ${invocationId}`, timeoutMs, () =>
      findExecResult(router.pool, invocationId, 1),
    );
  const rowsFor = async (invocationId: string) =>
    (await router.pool.query('SELECT count(*)::int AS n FROM exec_results WHERE invocation_id = $1', [invocationId]))
      .rows[0].n as number;

  // Every case starts with a running agent bound to the router: cases that stop it (SIGKILL,
  // SIGTERM) leave the next one to start it again, whatever order they run in.
  beforeEach(async () => {
    if (current.child.exitCode === null && current.child.signalCode === null) {
      await waitFor('agent bound', 10_000, () =>
        router.mesh.server.connections.routingOf(agentId) ? true : undefined,
      );
      return;
    }
    const stale = router.mesh.server.connections.routingOf(agentId);
    current = start();
    expect(await agentIdOf(current)).toBe(agentId);
    await waitFor('the new connection bound', 10_000, () => {
      const routing = router.mesh.server.connections.routingOf(agentId);
      return routing !== undefined && routing !== stale ? true : undefined;
    });
  }, 30_000);

  it('publishes its tools and workspaces, which the management API lists', async () => {
    const listed = await waitFor('the tool catalog', 10_000, async () => {
      const response = await router.app.inject({
        url: `/${router.project.project.id}/v1/management/agents/${agentId}/tools`,
        headers: bearer(router.project.adminKey),
      });
      const body = response.json() as {
        workspaces: string[];
        data: { name: string; risk: string; available?: boolean }[];
      };
      return body.data.length > 0 ? body : undefined;
    });
    expect(listed.workspaces).toEqual([WORKSPACE]);
    expect(listed.data.map((tool) => `${tool.name}:${tool.risk}`)).toEqual([
      'count_to:read',
      'deep_think:read',
      'echo_text:read',
      'purge_cache:destructive',
      'show_secret:read',
      'sleep_for:read',
    ]);
    expect(listed.data.find((tool) => tool.name === 'deep_think')).toMatchObject({ available: false });
  });

  it('passes hostile arguments as one inert argv element and records the signed result', async () => {
    const text = '; rm -rf / $(id) `id` --help ../../etc/passwd';
    const { invocationId } = dispatch('echo_text', { text });
    const result = await resultOf(invocationId);
    expect(result).toMatchObject({ status: 'succeeded', exit_code: 0, output: `${text}\n`, agent_id: agentId });
    expect(progress.get(invocationId)).toBe(`${text}\n`);
    expect(endings.get(invocationId)).toMatch(/^succeeded \(exit code 0\) after \d+ ms$/);
    expect(result.signature).toMatch(/^[A-Za-z0-9+/]{86}==$/);
  });

  it('sends output past 256 KiB in chunks ahead of the result, and the router puts it back together', async () => {
    const { invocationId } = dispatch('count_to', { n: '150000' });
    const result = await resultOf(invocationId);
    expect(result.status).toBe('succeeded');
    expect(result.output_chunks).toBeGreaterThanOrEqual(3);
    const full = await fullOutput(router.pool, result);
    const expected = `${Array.from({ length: 150_000 }, (_, index) => index + 1).join('\n')}\n`;
    expect(full.complete).toBe(true);
    expect(full.output.length).toBe(expected.length);
    expect(full.output === expected).toBe(true);
  });

  it('rejects arguments the schema refuses, before anything runs', async () => {
    const { invocationId } = dispatch('sleep_for', { seconds: '1; reboot' });
    expect(await resultOf(invocationId)).toMatchObject({ status: 'rejected', error: { code: 'invalid_args' } });
    expect(accepted.get(invocationId)).toBeUndefined();
  });

  it('attack: refuses a dispatch milder than its own declaration of the tool, or whose hash does not match, before anything runs', async () => {
    const mislabelled = dispatch('purge_cache', { name: 'everything' }, { risk: 'read' });
    expect(await resultOf(mislabelled.invocationId)).toMatchObject({
      status: 'rejected',
      error: { code: 'risk_mismatch' },
      output: '',
    });
    const swapped = dispatch(
      'purge_cache',
      { name: 'prod' },
      {
        risk: 'destructive',
        requestHash: requestHash({ tool: 'purge_cache', args: { name: 'scratch' }, workspace_id: WORKSPACE }),
      },
    );
    expect(await resultOf(swapped.invocationId)).toMatchObject({
      status: 'rejected',
      error: { code: 'request_hash_mismatch' },
      output: '',
    });
    expect(accepted.get(mislabelled.invocationId)).toBeUndefined();
    expect(accepted.get(swapped.invocationId)).toBeUndefined();
    const honest = dispatch('purge_cache', { name: 'scratch' }, { risk: 'destructive' });
    expect(await resultOf(honest.invocationId)).toMatchObject({ status: 'succeeded', output: 'purged scratch\n' });
  });

  it('runs a duplicated dispatch once', async () => {
    const { invocationId, frame } = dispatch('echo_text', { text: 'once' });
    await router.mesh.server.send(agentId, frame);
    await resultOf(invocationId);
    // The agent handles frames in order: once a later call's result is in, the duplicate was seen.
    await resultOf(dispatch('echo_text', { text: 'after the duplicate' }).invocationId);
    expect(accepted.get(invocationId)).toBe(1);
    expect(await rowsFor(invocationId)).toBe(1);
  });

  it('never lets a credential the tool prints reach the result, the database or the logs', async () => {
    const { invocationId } = dispatch('show_secret', {});
    const result = await resultOf(invocationId);
    expect(result.status).toBe('succeeded');
    expect(result.output).toBe('[REDACTED]\n');
    expect(progress.get(invocationId)).toBe('[REDACTED]\n');
    const leaks = await router.pool.query(
      "SELECT count(*)::int AS n FROM exec_results WHERE output LIKE '%' || $1 || '%'",
      [CANARY],
    );
    expect(leaks.rows[0].n).toBe(0);
    expect(current.stdout() + current.stderr()).not.toContain(CANARY);
  });

  it('refuses work past its concurrency cap at once, and cancels a running call', async () => {
    const long = dispatch('sleep_for', { seconds: '20' });
    await waitFor('the long call accepted', 5_000, () => accepted.get(long.invocationId));
    const extra = dispatch('echo_text', { text: 'no room' });
    expect(await resultOf(extra.invocationId)).toMatchObject({
      status: 'rejected',
      error: { code: 'capacity_exhausted' },
    });
    await router.mesh.server.send(agentId, makeFrame('exec.cancel', { invocation_id: long.invocationId, attempt: 1 }));
    expect(await resultOf(long.invocationId)).toMatchObject({ status: 'cancelled' });
  });

  it('kills a call at its timeout', async () => {
    const { invocationId } = dispatch('sleep_for', { seconds: '30' }, { timeoutMs: 500 });
    const result = await resultOf(invocationId);
    expect(result.status).toBe('timed_out');
    // Stopped at its timeout, not when `sleep 30` would have ended.
    expect(result.duration_ms).toBeLessThan(30_000);
  });

  it('reports a call an agent crash interrupted as interrupted, stops what it left running, and never runs it again', async () => {
    const { invocationId } = dispatch('sleep_for', { seconds: '37' });
    await waitFor('accepted', 5_000, () => accepted.get(invocationId));
    const leftover = () => spawnSync('pgrep', ['-x', '-f', 'sleep 37']).status === 0;
    await waitFor('the tool process', 5_000, () => leftover() || undefined);
    current.child.kill('SIGKILL');
    await current.exited;
    expect(leftover()).toBe(true);
    current = start();
    expect(await agentIdOf(current)).toBe(agentId);
    const result = await resultOf(invocationId, 15_000);
    expect(result).toMatchObject({ status: 'interrupted', error: { code: 'agent_restarted' } });
    expect(result.error?.message).toContain('were stopped');
    await waitFor('the leftover gone', 5_000, () => !leftover() || undefined);
    expect(accepted.get(invocationId)).toBe(1);
  });

  it('delivers a result held in the outbox across an agent crash while the router was down, exactly once', async () => {
    const { invocationId } = dispatch('sleep_for', { seconds: '1' });
    await waitFor('accepted', 5_000, () => accepted.get(invocationId));
    await router.restartMesh(async () => {
      // Finished while the router was away: the result waits in the agent's outbox.
      await waitFor('the result in the outbox', 10_000, async () => ((await outboxPending()) > 0 ? true : undefined));
      current.child.kill('SIGKILL');
      await current.exited;
    });
    expect(await rowsFor(invocationId)).toBe(0);
    current = start();
    await agentIdOf(current);
    expect(await resultOf(invocationId, 15_000)).toMatchObject({ status: 'succeeded' });
    // Everything acknowledged: nothing more will be resent, so the count is final.
    await waitFor('the outbox empty', 10_000, async () => ((await outboxPending()) === 0 ? true : undefined));
    expect(await rowsFor(invocationId)).toBe(1);
  });

  it('reloads its bundles on SIGHUP without dropping a running call, and publishes the new manifest', async () => {
    const running = dispatch('sleep_for', { seconds: '1' });
    await waitFor('accepted', 5_000, () => accepted.get(running.invocationId));
    mkdirSync(join(dir, 'tools', 'extra'), { recursive: true });
    writeFileSync(
      join(dir, 'tools', 'extra', 'bundle.yaml'),
      stringify({ ...BUNDLE, name: 'extra', tools: [{ ...BUNDLE.tools[0], name: 'extra_echo' }] }),
    );
    current.child.kill('SIGHUP');
    const published = async () =>
      (
        await router.pool.query<{ manifest: { tools: { name: string }[] } }>(
          'SELECT manifest FROM agents WHERE id = $1',
          [agentId],
        )
      ).rows[0]!.manifest;
    const offers = async (name: string) => (await published()).tools.some((tool) => tool.name === name);
    try {
      await waitFor('the new tool in the stored manifest', 10_000, async () =>
        (await offers('extra_echo')) ? true : undefined,
      );
      expect(await resultOf(running.invocationId)).toMatchObject({ status: 'succeeded' });
      const { invocationId } = dispatch('extra_echo', { text: 'new tool' });
      expect(await resultOf(invocationId)).toMatchObject({ status: 'succeeded', output: 'new tool\n' });
    } finally {
      // The bundle goes again (and with it the tool), so the catalog other cases see is the usual one.
      rmSync(join(dir, 'tools', 'extra'), { recursive: true, force: true });
      current.child.kill('SIGHUP');
      await waitFor('the extra tool gone from the manifest', 10_000, async () =>
        (await offers('extra_echo')) ? undefined : true,
      );
    }
  });

  it('counts finished calls by tool and status, and what awaits an ack, on its metrics endpoint', async () => {
    const { invocationId } = dispatch('echo_text', { text: 'counted' });
    await resultOf(invocationId);
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toMatch(/^xerotier_xem_executions_total\{[^}]*tool="echo_text"[^}]*status="succeeded"[^}]*\} [1-9]/m);
    expect(text).toMatch(/^xerotier_xem_executions_running\{[^}]*\} 0$/m);
    expect(text).toMatch(/^xerotier_xem_outbox_pending\{[^}]*\} \d+$/m);
  });

  it('on SIGTERM stops taking work, lets a running call finish within the grace, and exits 0', async () => {
    const { invocationId } = dispatch('sleep_for', { seconds: '1' });
    await waitFor('accepted', 5_000, () => accepted.get(invocationId));
    current.child.kill('SIGTERM');
    expect((await current.exited).code).toBe(0);
    expect(await resultOf(invocationId)).toMatchObject({ status: 'succeeded' });
  });

  it('on SIGTERM stops a call that outlives the grace, reports it interrupted before exiting, and exits 0', async () => {
    const { invocationId } = dispatch('sleep_for', { seconds: '30' });
    await waitFor('accepted', 5_000, () => accepted.get(invocationId));
    current.child.kill('SIGTERM');
    expect((await current.exited).code).toBe(0);
    expect(await rowsFor(invocationId)).toBe(1);
    expect(await resultOf(invocationId)).toMatchObject({ status: 'interrupted' });
  });
});
