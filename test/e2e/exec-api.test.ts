import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { execClient } from '../helpers/exec-client.js';
import { spawnXemAgent, waitFor, type Spawned } from '../helpers/processes.js';
import { startRouterHarness, type RouterHarness } from '../helpers/router-harness.js';
import { withPgClient } from '../helpers/pg-admin.js';
import { requestHash } from '../../services/protocol/request-hash.js';

const TESTKIT = {
  name: 'testkit',
  version: '1',
  domain: 'test',
  tools: [
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
    // Appends a line to a file, then sleeps: how many times it ran is visible afterwards.
    {
      name: 'mark_then_sleep',
      description: 'Mark a file, then sleep',
      risk: 'destructive',
      timeout_ms: 60_000,
      parameters: {
        type: 'object',
        properties: {
          file: { type: 'string', pattern: '^/[A-Za-z0-9_./-]+$' },
          seconds: { type: 'string', pattern: '^[0-9]+$' },
        },
        required: ['file', 'seconds'],
        additionalProperties: false,
      },
      command: { argv: ['sh', '-c', 'echo ran >> "$0"; sleep "$1"', '{{file}}', '{{seconds}}'] },
    },
    {
      name: 'mark_read',
      description: 'Mark a file, then sleep (as a read)',
      risk: 'read',
      timeout_ms: 60_000,
      parameters: {
        type: 'object',
        properties: {
          file: { type: 'string', pattern: '^/[A-Za-z0-9_./-]+$' },
          seconds: { type: 'string', pattern: '^[0-9]+$' },
        },
        required: ['file', 'seconds'],
        additionalProperties: false,
      },
      command: { argv: ['sh', '-c', 'echo ran >> "$0"; sleep "$1"', '{{file}}', '{{seconds}}'] },
    },
  ],
};
// Databases are server-wide: names unique to this run, dropped at the end.
const RUN = randomBytes(3).toString('hex');
const [APPROVED, KEPT, OTHER] = ['approved', 'kept', 'other'].map((name) => `scratch_${name}_${RUN}`) as [
  string,
  string,
  string,
];
const clients = ['psql', 'createdb', 'dropdb'].filter((program) => spawnSync(program, ['--version']).status !== 0);
if (clients.length > 0)
  process.stdout.write(`exec API e2e skipped: ${clients.join(', ')} not on PATH (install postgresql-client)\n`);

describe.skipIf(clients.length > 0)('exec API: a real router, a real XEM agent, the postgres sample bundle', () => {
  let router: RouterHarness;
  let api: ReturnType<typeof execClient>;
  let admin: string;
  let reviewer: { id: string; key: string; principalId: string };
  let operator: { id: string; key: string; principalId: string };
  let agentId: string;
  let workspace: string;
  const runs: Spawned[] = [];
  const dir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'exec-api-'));
  let joinKey: string;

  const start = () => {
    const run = spawnXemAgent({
      routerUrl: router.url,
      joinKey,
      name: 'xem-exec-api',
      dir,
      intervalMs: 500,
      env: { XEM_SHUTDOWN_GRACE_SECONDS: '2' },
    });
    runs.push(run);
    return run;
  };
  const databaseExists = async (name: string) =>
    (await router.pool.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;

  beforeAll(async () => {
    router = await startRouterHarness({ leaseRenewalIntervalMs: 500, heartbeatTimeoutMs: 2_500, dispatchTtlMs: 5_000 });
    api = execClient(router.app, router.project.project.id);
    admin = router.project.adminKey;
    workspace = router.project.workspace.id;
    reviewer = await api.mintKey(admin, 'reviewer');
    operator = await api.mintKey(admin, 'operator');
    cpSync(join(REPO_ROOT, 'config', 'tools', 'postgres'), join(dir, 'tools', 'postgres'), { recursive: true });
    mkdirSync(join(dir, 'tools', 'testkit'), { recursive: true });
    writeFileSync(join(dir, 'tools', 'testkit', 'bundle.yaml'), stringify(TESTKIT));
    const url = new URL(router.db.ownerUrl);
    mkdirSync(join(dir, 'credentials', workspace), { recursive: true });
    writeFileSync(
      join(dir, 'credentials', workspace, 'postgres.env'),
      [
        `PGHOST=${url.hostname}`,
        `PGPORT=${url.port || '5432'}`,
        `PGUSER=${decodeURIComponent(url.username)}`,
        `PGPASSWORD=${decodeURIComponent(url.password) || 'unused'}`,
        `PGDATABASE=${router.db.name}`,
      ].join('\n'),
    );
    joinKey = await router.mintJoinKey();
    const run = start();
    agentId = await new Promise<string>((resolve) =>
      run.child.once('message', (message: { agent_id: string }) => resolve(message.agent_id)),
    );
    // Its manifest known (management sees every agent), then bound: only bound agents' tools
    // are the workspace's. Every case below starts from a bound, online agent.
    await waitFor("the agent's manifest", 20_000, async () =>
      (await api.call('GET', `/management/agents/${agentId}/tools`, admin)).status === 200 ? true : undefined,
    );
    await api.bind(admin, workspace, agentId);
    await waitFor('the agent online in the workspace', 20_000, async () =>
      (await api.call('GET', '/exec/tools/pg_drop_database', operator.key)).body['online_agents'] === 1
        ? true
        : undefined,
    );
    // The database the dangerous calls aim at, which must outlive every one of them.
    await withPgClient(router.db.ownerUrl, (client) => client.query(`CREATE DATABASE ${KEPT}`));
  }, 60_000);
  // Every case starts from the same place, whatever ran before it: the default approval policy,
  // the agent taking work, bound, and online (a case may have killed and restarted it).
  beforeEach(async () => {
    await router.pool.query('DELETE FROM approval_policies WHERE workspace_id = $1', [workspace]);
    await api.call('POST', `/management/agents/${agentId}/resume-exec`, admin);
    await api.call('POST', `/management/workspaces/${workspace}/bindings`, admin, { agent_id: agentId });
    await waitFor('the agent bound and online', 20_000, async () =>
      router.mesh.server.connections.routingOf(agentId) &&
      (await api.call('GET', '/exec/tools/mark_read', operator.key)).body['online_agents'] === 1
        ? true
        : undefined,
    );
  }, 30_000);
  afterAll(async () => {
    for (const run of runs) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    for (const name of [APPROVED, KEPT, OTHER])
      await withPgClient(router.db.ownerUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name}`)).catch(
        () => undefined,
      );
    await router?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists the tools of bound agents with their risk; an unbound agent's tools are not the workspace's", async () => {
    const tools = await api.call('GET', '/exec/tools', operator.key);
    const byName = new Map(
      (tools.body['data'] as { name: string; risk: string; requires_approval: boolean }[]).map((tool) => [
        tool.name,
        tool,
      ]),
    );
    expect(byName.get('pg_list_databases')).toMatchObject({ risk: 'read', requires_approval: false });
    expect(byName.get('pg_drop_database')).toMatchObject({
      risk: 'irreversible',
      requires_approval: true,
      conflict: null,
      agents: [{ agent_id: agentId }],
    });
    expect((await api.call('DELETE', `/management/workspaces/${workspace}/bindings/${agentId}`, admin)).status).toBe(
      200,
    );
    expect((await api.call('GET', '/exec/tools', operator.key)).body['data']).toEqual([]);
    const unbound = await api.invoke(operator.key, 'pg_list_databases', {});
    expect(unbound).toMatchObject({ status: 400, body: { error: { code: 'exec_tool_not_found', param: 'tool' } } });
    await api.bind(admin, workspace, agentId);
  });

  it('runs a read call at once and keeps its history and output', async () => {
    const created = await api.invoke(operator.key, 'pg_list_databases', {});
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ state: 'queued', risk: 'read', approval_id: null });
    const done = await api.until(operator.key, created.body['id'] as string, 'succeeded');
    expect(done).toMatchObject({ attempt: 1, agent_id: agentId, result: { status: 'succeeded', exit_code: 0 } });
    expect(done.history!.map((entry) => entry.state)).toEqual(['queued', 'dispatched', 'running', 'succeeded']);
    const output = await api.call('GET', `/exec/invocations/${done.id}/output`, operator.key);
    expect(output.body['output']).toContain(router.db.name);
  });

  it('validates arguments against the tool schema before storing anything, and names unknown tools', async () => {
    const before = (await router.pool.query('SELECT count(*)::int AS n FROM invocations')).rows[0].n;
    const bad = await api.invoke(operator.key, 'pg_drop_database', { name: 'x; DROP TABLE agents' });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'invalid_body', param: 'args.name' } } });
    const missing = await api.invoke(operator.key, 'pg_drop_database', {});
    expect(missing).toMatchObject({ status: 400, body: { error: { code: 'invalid_body', param: 'args.name' } } });
    const unknown = await api.invoke(operator.key, 'rm_rf', {});
    expect(unknown).toMatchObject({ status: 400, body: { error: { code: 'exec_tool_not_found', param: 'tool' } } });
    const extra = await api.call('POST', '/exec/invocations', operator.key, {
      tool: 'pg_list_databases',
      args: {},
      sneaky: true,
    });
    expect(extra).toMatchObject({ status: 400, body: { error: { code: 'invalid_body' } } });
    expect((await router.pool.query('SELECT count(*)::int AS n FROM invocations')).rows[0].n).toBe(before);
  });

  it('holds a drop-database call for approval, refuses the requester, and runs it once a reviewer approves', async () => {
    const created = await api.invoke(operator.key, 'pg_create_database', { name: APPROVED });
    await api.until(operator.key, created.body['id'] as string, 'succeeded');
    expect(await databaseExists(APPROVED)).toBe(true);

    const drop = await api.invoke(operator.key, 'pg_drop_database', { name: APPROVED });
    expect(drop.body).toMatchObject({ state: 'pending_approval', approval_id: expect.stringMatching(/^apr_/) });
    // A dispatch round that saw the held call: it was not sent.
    await router.exec.dispatcher.settle();
    expect(await api.invocation(operator.key, drop.body['id'] as string)).toMatchObject({
      state: 'pending_approval',
      attempt: 0,
    });
    expect(await databaseExists(APPROVED)).toBe(true);
    const approvalId = drop.body['approval_id'] as string;
    const self = await api.call('POST', `/exec/approvals/${approvalId}/approve`, operator.key, {});
    expect(self).toMatchObject({ status: 403, body: { error: { code: 'self_approval_forbidden' } } });
    // Another key of the same person is the same person.
    const secondKey = await api.call('POST', '/management/api-keys', admin, {
      name: 'operator, second key',
      scopes: ['execution'],
      owner: operator.principalId,
    });
    const viaSecondKey = await api.call(
      'POST',
      `/exec/approvals/${approvalId}/approve`,
      secondKey.body['key'] as string,
      {},
    );
    expect(viaSecondKey).toMatchObject({ status: 403, body: { error: { code: 'self_approval_forbidden' } } });
    const stale = await api.call('POST', `/exec/approvals/${approvalId}/approve`, reviewer.key, {
      request_hash: 'f'.repeat(64),
    });
    expect(stale).toMatchObject({ status: 409, body: { error: { code: 'approval_request_mismatch' } } });
    const approved = await api.call('POST', `/exec/approvals/${approvalId}/approve`, reviewer.key, {
      note: 'ticket OPS-1',
    });
    expect(approved).toMatchObject({
      status: 200,
      body: { state: 'approved', decided_by: reviewer.principalId, note: 'ticket OPS-1' },
    });
    await api.until(operator.key, drop.body['id'] as string, 'succeeded');
    expect(await databaseExists(APPROVED)).toBe(false);
    const again = await api.call('POST', `/exec/approvals/${approvalId}/reject`, reviewer.key, {});
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'approval_not_pending' } } });
  });

  it('never runs a rejected call, nor an expired one', async () => {
    const rejected = await api.invoke(operator.key, 'pg_drop_database', { name: KEPT });
    const reject = await api.call(
      'POST',
      `/exec/approvals/${rejected.body['approval_id'] as string}/reject`,
      reviewer.key,
      { reason: 'not during business hours' },
    );
    expect(reject.body).toMatchObject({ state: 'rejected', note: 'not during business hours' });
    expect((await api.invocation(operator.key, rejected.body['id'] as string)).state).toBe('rejected');

    const policy = await api.call('PATCH', `/management/approval-policies/${workspace}`, admin, {
      timeout_seconds_irreversible: 1,
    });
    expect(policy.body).toMatchObject({ timeout_seconds_irreversible: 1, on_timeout_irreversible: 'expire' });
    const expiring = await api.invoke(operator.key, 'pg_drop_database', { name: KEPT });
    await waitFor('expiry', 10_000, async () =>
      (await api.invocation(operator.key, expiring.body['id'] as string)).state === 'expired' ? true : undefined,
    );
    const late = await api.call(
      'POST',
      `/exec/approvals/${expiring.body['approval_id'] as string}/approve`,
      reviewer.key,
      {},
    );
    expect(late).toMatchObject({ status: 409, body: { error: { code: 'approval_expired' } } });
    await router.exec.dispatcher.settle();
    expect(await api.invocation(operator.key, expiring.body['id'] as string)).toMatchObject({
      state: 'expired',
      attempt: 0,
    });
    expect(await databaseExists(KEPT)).toBe(true);
  });

  it('escalates a timed-out approval to the escalation reviewers, as an audited event', async () => {
    await api.call('PATCH', `/management/approval-policies/${workspace}`, admin, {
      timeout_seconds_irreversible: 1,
      on_timeout_irreversible: 'escalate',
      escalation_reviewers: [operator.principalId],
    });
    const drop = await api.invoke(reviewer.key, 'pg_drop_database', { name: KEPT });
    const approvalId = drop.body['approval_id'] as string;
    await waitFor('escalation', 10_000, async () =>
      (await api.call('GET', `/exec/approvals/${approvalId}`, reviewer.key)).body['stage'] === 2 ? true : undefined,
    );
    const outsider = await api.mintKey(admin, 'outsider');
    expect((await api.call('POST', `/exec/approvals/${approvalId}/approve`, outsider.key, {})).body).toMatchObject({
      error: { code: 'approval_reviewer_not_allowed' },
    });
    await waitFor('expiry after escalation', 10_000, async () =>
      (await api.invocation(reviewer.key, drop.body['id'] as string)).state === 'expired' ? true : undefined,
    );
    const audit = await api.call('GET', `/management/audit?subject=${approvalId}`, admin);
    expect((audit.body['data'] as { event: string }[]).map((entry) => entry.event).reverse()).toEqual([
      'approval.requested',
      'approval.escalated',
      'approval.expired',
    ]);
    expect(await databaseExists(KEPT)).toBe(true);
  });

  it('voids an approval when the stored call changes after it was asked for', async () => {
    const drop = await api.invoke(operator.key, 'pg_drop_database', { name: OTHER });
    // Someone with database access swaps the target while the call waits for a reviewer.
    await router.pool.query('UPDATE invocations SET args = $2 WHERE id = $1', [drop.body['id'], { name: KEPT }]);
    await api.call('POST', `/exec/approvals/${drop.body['approval_id'] as string}/approve`, reviewer.key, {});
    const voided = await api.until(operator.key, drop.body['id'] as string, 'approval_voided');
    expect(voided.history!.at(-1)).toMatchObject({
      state: 'approval_voided',
      reason: expect.stringContaining('no longer matches'),
    });
    expect(voided.attempt).toBe(0);
    expect(await databaseExists(KEPT)).toBe(true);
  });

  it("attack: arguments and the invocation's own hash swapped after approval are caught against the approval row", async () => {
    // The agent paused, the approved call waits queued: long enough for the swap.
    await api.call('POST', `/management/agents/${agentId}/pause-exec`, admin);
    const drop = await api.invoke(operator.key, 'pg_drop_database', { name: OTHER });
    await api.call('POST', `/exec/approvals/${drop.body['approval_id'] as string}/approve`, reviewer.key, {});
    await api.until(operator.key, drop.body['id'] as string, 'queued');
    const swapped = { name: KEPT };
    await router.pool.query('UPDATE invocations SET args = $2, request_hash = $3 WHERE id = $1', [
      drop.body['id'],
      swapped,
      requestHash({ tool: 'pg_drop_database', args: swapped, workspace_id: workspace }),
    ]);
    await api.call('POST', `/management/agents/${agentId}/resume-exec`, admin);
    const voided = await api.until(operator.key, drop.body['id'] as string, 'approval_voided');
    expect(voided.attempt).toBe(0);
    expect(await databaseExists(KEPT)).toBe(true);
  });

  it('attack: a destructive row put straight into the queue, with no approval, runs nowhere', async () => {
    const id = `inv_${randomBytes(12).toString('hex')}`;
    const args = { name: KEPT };
    await router.pool.query(
      `INSERT INTO invocations (id, project_id, workspace_id, tool, risk, args, request_hash, requested_by, state, timeout_ms, queued_at)
       VALUES ($1, $2, $3, 'pg_drop_database', 'irreversible', $4, $5, 'key:forged', 'queued', 30000, now())`,
      [
        id,
        router.project.project.id,
        workspace,
        args,
        requestHash({ tool: 'pg_drop_database', args, workspace_id: workspace }),
      ],
    );
    await router.pool.query("SELECT pg_notify('xerotier_exec_queue', '')");
    const voided = await api.until(operator.key, id, 'approval_voided');
    expect(voided.history!.at(-1)).toMatchObject({ reason: expect.stringContaining('no approved approval') });
    expect(await databaseExists(KEPT)).toBe(true);
  });

  it('cancels a queued or running call; the agent stops it', async () => {
    const running = await api.invoke(operator.key, 'sleep_for', { seconds: '30' });
    await api.until(operator.key, running.body['id'] as string, 'running');
    const cancel = await api.call('POST', `/exec/invocations/${running.body['id'] as string}/cancel`, operator.key, {
      reason: 'wrong host',
    });
    expect(cancel.body).toMatchObject({ state: 'cancelled' });
    const result = await waitFor(
      'the agent to report the cancelled run',
      10_000,
      async () =>
        (await router.pool.query('SELECT status FROM exec_results WHERE invocation_id = $1', [running.body['id']]))
          .rows[0] as { status: string } | undefined,
    );
    expect(result.status).toBe('cancelled');
    const twice = await api.call('POST', `/exec/invocations/${running.body['id'] as string}/cancel`, operator.key, {});
    expect(twice).toMatchObject({ status: 409, body: { error: { code: 'invocation_final' } } });
  });

  it('pause-exec holds queued work without dropping the lease; resume-exec releases it', async () => {
    expect((await api.call('POST', `/management/agents/${agentId}/pause-exec`, admin)).body).toMatchObject({
      exec_paused: true,
      status: 'active',
    });
    const held = await api.invoke(operator.key, 'pg_list_databases', {});
    expect(held.status).toBe(201);
    await router.exec.dispatcher.settle();
    expect((await api.invocation(operator.key, held.body['id'] as string)).state).toBe('queued');
    expect((await api.call('GET', `/management/agents/${agentId}`, admin)).body['status']).toBe('active');
    await api.call('POST', `/management/agents/${agentId}/resume-exec`, admin);
    await api.until(operator.key, held.body['id'] as string, 'succeeded');
  });

  it('lists invocations with filters and cursors, and keeps an intact audit chain', async () => {
    // Three of its own, so the pages do not depend on what other cases left.
    const held = await Promise.all([1, 2, 3].map(() => api.invoke(operator.key, 'pg_drop_database', { name: OTHER })));
    const page = await api.call('GET', '/exec/invocations?risk=irreversible&limit=2', operator.key);
    expect(page.body).toMatchObject({ has_more: true, next_cursor: expect.stringMatching(/^inv_/) });
    const next = await api.call(
      'GET',
      `/exec/invocations?risk=irreversible&limit=2&after=${page.body['next_cursor'] as string}`,
      operator.key,
    );
    const ids = [...(page.body['data'] as { id: string }[]), ...(next.body['data'] as { id: string }[])].map(
      (row) => row.id,
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect((await api.call('GET', "/exec/invocations?tool=x'%20OR%201=1", operator.key)).status).toBe(400);
    expect((await api.call('GET', '/management/audit/verify', admin)).body).toMatchObject({ ok: true });
    for (const call of held)
      await api.call('POST', `/exec/approvals/${call.body['approval_id'] as string}/reject`, reviewer.key, {});
  });

  it('SIGKILL during a destructive call: ambiguous, never re-run, until an operator resolves it', async () => {
    const marks = join(dir, 'destructive-marks');
    const call = await api.invoke(operator.key, 'mark_then_sleep', { file: marks, seconds: '30' });
    await api.call('POST', `/exec/approvals/${call.body['approval_id'] as string}/approve`, reviewer.key, {});
    await api.until(operator.key, call.body['id'] as string, 'running');
    await waitFor('the mark', 5_000, () =>
      spawnSync('cat', [marks]).stdout.toString().includes('ran') ? true : undefined,
    );
    const victim = runs.at(-1)!;
    process.kill(-victim.child.pid!, 'SIGKILL');
    await victim.exited;
    const ambiguous = await api.until(operator.key, call.body['id'] as string, 'ambiguous', 20_000);
    expect(ambiguous.attempt).toBe(1);
    start();
    // Back and able to take work: had the call been eligible, this round would have sent it.
    await waitFor('the restarted agent bound and online', 20_000, async () =>
      router.mesh.server.connections.routingOf(agentId) &&
      (await api.call('GET', '/exec/tools/mark_read', operator.key)).body['online_agents'] === 1
        ? true
        : undefined,
    );
    await router.exec.dispatcher.settle();
    expect((await api.invocation(operator.key, call.body['id'] as string)).state).toBe('ambiguous');
    expect(spawnSync('cat', [marks]).stdout.toString().trim().split('\n')).toHaveLength(1);
    const resolved = await api.call('POST', `/exec/invocations/${call.body['id'] as string}/resolve`, operator.key, {
      outcome: 'failed',
      note: 'checked by hand',
    });
    expect(resolved.body).toMatchObject({ state: 'failed' });
  });

  it('SIGKILL during a read call: dispatched again as a new attempt and completed once', async () => {
    const marks = join(dir, 'read-marks');
    const call = await api.invoke(operator.key, 'mark_read', { file: marks, seconds: '4' });
    expect(call.status).toBe(201);
    await api.until(operator.key, call.body['id'] as string, 'running');
    const victim = runs.at(-1)!;
    process.kill(-victim.child.pid!, 'SIGKILL');
    await victim.exited;
    start();
    const done = await api.until(operator.key, call.body['id'] as string, 'succeeded', 40_000);
    expect(done.attempt).toBe(2);
    expect(done.history!.map((entry) => entry.state)).toEqual([
      'queued',
      'dispatched',
      'running',
      'queued',
      'dispatched',
      'running',
      'succeeded',
    ]);
    const results = await router.pool.query<{ attempt: number; status: string }>(
      'SELECT attempt, status FROM exec_results WHERE invocation_id = $1 ORDER BY attempt',
      [call.body['id']],
    );
    expect(results.rows.filter((row) => row.status === 'succeeded')).toEqual([{ attempt: 2, status: 'succeeded' }]);
  });
});
