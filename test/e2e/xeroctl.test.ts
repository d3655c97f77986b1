import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labBundle } from '../helpers/bundles.js';
import { createPool } from '../../services/router/store/pool.js';
import { silentLogger } from '../helpers/logger.js';
import { startLoopStack, type LoopStack } from '../helpers/loop-stack.js';
import { waitFor } from '../helpers/processes.js';
import { startXeroctl, xeroctl } from '../helpers/xeroctl.js';

const MODEL = 'scripted/xeroctl';
const people = {
  ada: { email: 'ada@example.com', password: 'correct horse battery staple', roles: ['admin', 'operator', 'approver'] },
  grace: { email: 'grace@example.com', password: 'another long passphrase', roles: ['operator', 'approver'] },
};

/**
 * The real xeroctl process against a real router, XEM agent (and XIM agent on the scripted
 * engine): two people with their own contexts, calls waited on through approval, the audit log
 * verified and then forged by a database superuser, and the exit codes scripts branch on.
 */
describe('xeroctl against a real router and agents', () => {
  let stack: LoopStack;
  let home: string;
  let env: Record<string, string>;
  const as = (context: string) => ['--context', context];
  const run = (args: readonly string[], stdin?: string) =>
    xeroctl(args, { env, ...(stdin !== undefined ? { stdin } : {}) });

  beforeAll(async () => {
    stack = await startLoopStack({
      model: MODEL,
      bundle: labBundle('disk_usage', 'restart_service', 'wipe_volume'),
      prefix: 'xeroctl-e2e-',
    });
    for (const [name, person] of Object.entries(people)) {
      const added = await stack.api.call('POST', '/management/users', stack.router.project.adminKey, {
        email: person.email,
        display_name: name,
        roles: person.roles,
        password: person.password,
      });
      expect(added.status).toBe(201);
    }
    home = mkdtempSync(join(tmpdir(), 'xeroctl-home-'));
    env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
  }, 180_000);
  afterAll(async () => {
    await stack?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('adds a context per person and signs each in; the file is 0600 and holds no password', async () => {
    const project = stack.router.project.project.id;
    for (const [name, person] of Object.entries(people)) {
      const added = await run([
        'config',
        'add',
        name,
        '--url',
        stack.router.url,
        '--project',
        project,
        '--ui-url',
        'https://ui.example.test',
      ]);
      expect(added.code, added.stderr).toBe(0);
      const login = await run([...as(name), 'login', '--email', person.email, '--password-stdin'], person.password);
      expect(login.code, login.stderr).toBe(0);
      expect(login.stdout + login.stderr).not.toContain(person.password);
    }
    expect((await run(['config', 'use', 'ada'])).code).toBe(0);
    const file = join(home, '.config', 'xerotier', 'config.yaml');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('current_context: ada');
    expect(text).not.toContain(people.ada.password);
    const listed = await run(['config', 'list']);
    expect(listed.stdout).toMatch(/\*\s+ada/);
    expect(listed.stdout).not.toMatch(/xero_[A-Za-z0-9]/);
    const status = await run(['status', '-o', 'json']);
    expect(status.code, status.stderr).toBe(0);
    const answer = JSON.parse(status.stdout);
    expect(answer).toMatchObject({
      context: 'ada',
      router: { health: 'ok', readiness: 'ready', version: expect.any(String) },
    });
    expect(answer.whoami.principal.email).toBe(people.ada.email);
    expect(status.stdout).not.toMatch(/xero_[A-Za-z0-9_]{20,}/);
  });

  it('runs a read call with --wait and prints its output', async () => {
    const called = await run(['exec', 'invoke', 'disk_usage', '--wait']);
    expect(called.code, called.stderr).toBe(0);
    expect(called.stdout).toBe('disk 42% full\n');
  });

  it('waits on a destructive call until a second person approves it from their context, then ends 0', async () => {
    const waiting = startXeroctl(['exec', 'invoke', 'restart_service', '--wait'], { env });
    const approval = await waitFor(
      'the approval named by the waiting CLI',
      30_000,
      async () => /Waiting for approval (apr_\w+)/.exec(waiting.stderr())?.[1],
    );
    expect(waiting.stderr()).toContain(`https://ui.example.test/ops#${approval}`);
    // Ada asked: she may not approve it herself.
    const self = await run(['approvals', 'approve', approval, '--yes']);
    expect(self.code).toBe(3);
    expect(self.stderr).toContain('self_approval_forbidden');
    const approved = await run([
      ...as('grace'),
      'approvals',
      'approve',
      approval,
      '--confirm',
      'restart_service',
      '--note',
      'OPS-42',
    ]);
    expect(approved.code, approved.stderr).toBe(0);
    expect(await waiting.exited).toBe(0);
    expect(waiting.stdout()).toBe('restarted\n');
  });

  it('ends 6 when the call it waits on is rejected, with the reason', async () => {
    const waiting = startXeroctl(['exec', 'invoke', 'restart_service', '--wait'], { env });
    const approval = await waitFor(
      'the approval',
      30_000,
      async () => /Waiting for approval (apr_\w+)/.exec(waiting.stderr())?.[1],
    );
    const rejected = await run([
      ...as('grace'),
      'approvals',
      'reject',
      approval,
      '--reason',
      'not during business hours',
    ]);
    expect(rejected.code, rejected.stderr).toBe(0);
    expect(await waiting.exited).toBe(6);
    expect(waiting.stderr()).toMatch(/ended rejected/);
  });

  it('ends 5 when the wait runs out first, and the call goes on', async () => {
    const timedOut = await run(['exec', 'invoke', 'restart_service', '--wait', '--timeout', '1s']);
    expect(timedOut.code).toBe(5);
    const id = /^(inv_\w+)/m.exec(timedOut.stderr)![1]!;
    const shown = await run(['exec', 'show', id, '-o', 'json']);
    expect(JSON.parse(shown.stdout).state).toBe('pending_approval');
    const pending = await run(['approvals', 'list', '-o', 'json']);
    expect(JSON.parse(pending.stdout).data.map((row: { invocation_id: string }) => row.invocation_id)).toContain(id);
  });

  it('prints -o json as the API answers it', async () => {
    const listed = await run(['exec', 'list', '--limit', '10', '-o', 'json']);
    expect(listed.code, listed.stderr).toBe(0);
    const api = await stack.api.call('GET', '/exec/invocations?limit=10', stack.operator.key);
    const cli = JSON.parse(listed.stdout);
    expect(cli.object).toBe('list');
    expect(cli.data.map((row: { id: string }) => row.id)).toEqual(
      (api.body['data'] as { id: string }[]).map((row) => row.id),
    );
    const names = await run(['agents', 'list', '-o', 'name']);
    expect(names.stdout.trim()).toMatch(/^agt_[0-9a-f]+(\nagt_[0-9a-f]+)*$/);
    const yaml = await run(['workspaces', 'list', '-o', 'yaml']);
    expect(yaml.stdout).toContain(`id: ${stack.workspace}`);
  });

  it('watches calls and approvals live; Ctrl-C ends the watch with 130', async () => {
    const calls = startXeroctl(['exec', 'list', '--limit', '1', '--watch'], { env });
    const approvals = startXeroctl(['approvals', 'watch', '-o', 'json'], { env });
    await waitFor(
      'both watching',
      20_000,
      async () =>
        (calls.stderr().includes('Watching every call') && approvals.stderr().includes('Watching approvals')) ||
        undefined,
    );
    const made = await stack.api.call('POST', '/exec/invocations', stack.operator.key, {
      tool: 'restart_service',
      args: {},
    });
    const id = String(made.body['id']);
    await waitFor(
      'the watched state change',
      20_000,
      async () => calls.stdout().includes(`${id}  pending_approval`) || undefined,
    );
    const opened = await waitFor('the watched approval', 20_000, async () =>
      approvals
        .stdout()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { invocation_id: string; state: string })
        .find((approval) => approval.invocation_id === id),
    );
    expect(opened.state).toBe('pending');
    calls.kill('SIGINT');
    approvals.kill('SIGINT');
    expect([await calls.exited, await approvals.exited]).toEqual([130, 130]);
  });

  it('mints a join key shown once with the install command', async () => {
    const minted = await run(['join-keys', 'mint', 'db-host-9']);
    expect(minted.code, minted.stderr).toBe(0);
    const key = minted.stdout.trim();
    expect(key).toMatch(/^\S{20,}$/);
    expect(minted.stderr).toContain(
      `printf %s '${key}' | sudo xeroctl bootstrap --router-url ${stack.router.url} --join-key-stdin --name db-host-9 --start`,
    );
    const listed = await run(['join-keys', 'list', '-o', 'json']);
    expect(listed.stdout).not.toContain(key);
  });

  it('verifies the audit log: 0 while intact, 1 naming the row a superuser forged', async () => {
    const intact = await run(['audit', 'verify']);
    expect(intact.code, intact.stderr).toBe(0);
    expect(intact.stdout).toMatch(/^Intact: \d+ entries/);
    const superuser = createPool({ connectionString: stack.router.db.ownerUrl, max: 1, logger: silentLogger() });
    try {
      const { rows } = await superuser.query<{ position: string }>(
        'SELECT position FROM execution_audit_log ORDER BY position LIMIT 1 OFFSET 3',
      );
      const target = rows[0]!.position;
      await superuser.query('ALTER TABLE execution_audit_log DISABLE TRIGGER audit_refuse_update');
      await superuser.query(`UPDATE execution_audit_log SET event = 'forged.entry' WHERE position = $1`, [target]);
      await superuser.query('ALTER TABLE execution_audit_log ENABLE ALWAYS TRIGGER audit_refuse_update');
      const broken = await run(['audit', 'verify']);
      expect(broken.code).toBe(1);
      expect(broken.stdout).toContain(`BROKEN: row ${target} (hash_mismatch)`);
      expect(broken.stderr).toContain(`row ${target}`);
    } finally {
      await superuser.end();
    }
  });

  it('says usage (2), not authenticated (3) and not found (4) by their exit codes', async () => {
    expect((await run(['exec', 'invoke'])).code).toBe(2);
    expect((await run(['nonsense'])).code).toBe(2);
    expect((await run(['exec', 'invoke', 'disk_usage', '--args', '{not json'])).code).toBe(2);
    const bogus = await xeroctl(['agents', 'list'], {
      env: { ...env, XEROCTL_API_KEY: 'xero_nobody_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' },
    });
    expect(bogus.code).toBe(3);
    expect(bogus.stderr).toContain('invalid_api_key');
    expect(bogus.stderr).not.toContain('aaaaaaaaaaaaaaaa');
    const missing = await run(['exec', 'show', 'inv_000000000000000000000000']);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('invocation_not_found');
    expect((await run(['--context', 'nobody', 'agents', 'list'])).code).toBe(4);
    const help = await run(['exec', 'invoke', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
  });

  it('chats: the answer streams, the tool call shows as a card', async () => {
    const sent = await run(['chat', 'send', 'Check disk_usage please']);
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stderr).toMatch(/┌ disk_usage \[read\]/);
    expect(sent.stderr).toContain('disk 42% full');
    expect(sent.stdout.trim().length).toBeGreaterThan(0);
  });

  it('chats interactively: a destructive call the model proposes is approved at the prompt and runs', async () => {
    const chat = await run(['chat', 'send', '-i'], 'restart_service now\ny\n');
    expect(chat.code, chat.stderr).toBe(0);
    expect(chat.stderr).toMatch(/┌ restart_service \[destructive\] .* needs approval apr_\w+/);
    expect(chat.stderr).toContain('Approve restart_service [destructive]');
    expect(chat.stderr).toContain('restarted');
  });

  it("changes a workspace policy with key=value and shows the router's error for a bad one", async () => {
    const set = await run(['policies', 'set', stack.workspace, 'timeout_seconds_destructive=600', '-o', 'json']);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ timeout_seconds_destructive: 600 });
    const bad = await run(['policies', 'set', stack.workspace, 'min_approvers_destructive=7']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid_body, field .*min_approvers_destructive/);
  });

  it('signs out: the session ends at the router and leaves the file', async () => {
    const out = await run([...as('grace'), 'logout']);
    expect(out.code, out.stderr).toBe(0);
    expect(readFileSync(join(home, '.config', 'xerotier', 'config.yaml'), 'utf8')).not.toMatch(
      /grace:[\s\S]*session:[\s\S]*ada:/,
    );
    expect((await run([...as('grace'), 'agents', 'list'])).code).toBe(3);
  });
});
