import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_IDENTITY } from '../../services/router/people/settings.js';
import { insertFakeXemAgent, startAppHarness, type AppHarness } from '../helpers/app-harness.js';
import { execClient } from '../helpers/exec-client.js';
import { bearer, seedProject, type SeededProject } from '../helpers/fixtures.js';
import { capturingLogger } from '../helpers/logger.js';

const PASSWORD = 'correct horse battery staple';

describe('people: roles, keys owned by principals, approvals by person', () => {
  let harness: AppHarness;
  let app: FastifyInstance;
  let acme: SeededProject;
  let api: ReturnType<typeof execClient>;
  const log = capturingLogger('trace');

  beforeAll(async () => {
    harness = await startAppHarness({
      app: { logger: log.logger, identity: { ...DEFAULT_IDENTITY, lockoutFailures: 3, signInPerMinute: 1_000 } },
      prepare: async (db, project) =>
        void (await insertFakeXemAgent(db, project, 'xem-people', [
          { name: 'drop_it', risk: 'destructive' },
          { name: 'wipe_it', risk: 'irreversible' },
          { name: 'look', risk: 'read' },
        ])),
    });
    ({ app, acme } = harness);
    api = execClient(app, acme.project.id);
  });
  afterAll(() => harness.close());
  beforeEach(async () => {
    await harness.pool.query('DELETE FROM approval_policies');
  });

  const policy = (change: object) =>
    api.call('PATCH', `/management/approval-policies/${acme.workspace.id}`, acme.adminKey, change);
  const decide = (key: string, id: string, verdict: 'approve' | 'reject') =>
    api.call('POST', `/exec/approvals/${id}/${verdict}`, key, {});

  it("caps every key at its owner's roles, and a role lost bites on the next request", async () => {
    const viewer = await api.mintKey(acme.adminKey, 'Vera Viewer', ['execution', 'management'], ['viewer']);
    expect((await api.call('GET', '/exec/invocations', viewer.key)).status).toBe(200);
    const refused = await api.invoke(viewer.key, 'look', {});
    expect([refused.status, refused.body.error?.code]).toEqual([403, 'role_insufficient']);
    expect((await api.call('POST', '/management/workspaces', viewer.key, { name: 'nope' })).body.error?.code).toBe(
      'role_insufficient',
    );
    const wider = await api.call('POST', '/management/api-keys', acme.adminKey, {
      name: 'too wide',
      scopes: ['inference'],
      owner: viewer.principalId,
    });
    expect([wider.status, wider.body.error?.code]).toEqual([403, 'scope_exceeds_roles']);

    const operator = await api.mintKey(acme.adminKey, 'Otto Operator', ['execution'], ['operator']);
    expect((await api.invoke(operator.key, 'look', {})).status).toBe(201);
    const demoted = await api.call('PUT', `/management/members/${operator.principalId}/roles`, acme.adminKey, {
      roles: ['viewer'],
    });
    expect(demoted.body['roles']).toEqual(['viewer']);
    expect((await api.invoke(operator.key, 'look', {})).body.error?.code).toBe('role_insufficient');
  });

  it('a key cannot mint a wider key, and the key list shows every owner', async () => {
    const execOnly = await acme.keyWith(['execution', 'management']);
    const wider = await api.call('POST', '/management/api-keys', execOnly, { name: 'wider', scopes: ['inference'] });
    expect(wider.body.error?.code).toBe('scope_exceeds_roles');
    const listed = await api.call('GET', '/management/api-keys?limit=100', acme.adminKey);
    const owners = (listed.body['data'] as { owner: { id: string; kind: string } }[]).map((key) => key.owner);
    expect(owners.every((owner) => /^(usr|sa)_/.test(owner.id) && owner.kind)).toBe(true);
    expect(owners.some((owner) => owner.id === acme.adminId)).toBe(true);
  });

  it('an admin with a second key of their own still cannot approve their own dangerous call', async () => {
    const call = await api.invoke(acme.adminKey, 'drop_it', {});
    expect(call.status).toBe(201);
    const approvalId = call.body['approval_id'] as string;
    const second = await api.call('POST', '/management/api-keys', acme.adminKey, {
      name: 'my second key',
      scopes: ['execution'],
    });
    const self = await decide(second.body['key'] as string, approvalId, 'approve');
    expect([self.status, self.body.error?.code]).toEqual([403, 'self_approval_forbidden']);
    const reviewer = await api.mintKey(acme.adminKey, 'Rita Reviewer');
    const approved = await decide(reviewer.key, approvalId, 'approve');
    expect(approved.body['state']).toBe('approved');
    expect(approved.body['decisions']).toMatchObject([
      {
        principal: { id: reviewer.principalId, kind: 'user' },
        key_id: reviewer.id,
        channel: 'api',
        verdict: 'approve',
      },
    ]);
    const audit = await harness.pool.query(
      'SELECT actor, detail FROM execution_audit_log WHERE subject = $1 AND event = $2',
      [approvalId, 'approval.approved'],
    );
    expect(audit.rows[0]).toMatchObject({
      actor: reviewer.principalId,
      detail: { via: { key_id: reviewer.id, channel: 'api' } },
    });
  });

  it('irreversible calls always need a second person; two approvers means two different people', async () => {
    expect((await policy({ allow_self_approval: true, min_approvers_irreversible: 2 })).status).toBe(200);
    const requester = await api.mintKey(acme.adminKey, 'Rex Requester');
    const call = await api.invoke(requester.key, 'wipe_it', {});
    const approvalId = call.body['approval_id'] as string;
    expect((await decide(requester.key, approvalId, 'approve')).body.error?.code).toBe('self_approval_forbidden');
    const first = await api.mintKey(acme.adminKey, 'First Approver');
    const recorded = await decide(first.key, approvalId, 'approve');
    expect(recorded.body).toMatchObject({ state: 'pending', min_approvers: 2 });
    expect((await decide(first.key, approvalId, 'approve')).body.error?.code).toBe('approval_already_decided');
    expect((await api.invocation(requester.key, call.body['id'] as string)).state).toBe('pending_approval');
    const secondApprover = await api.mintKey(acme.adminKey, 'Second Approver');
    const approved = await decide(secondApprover.key, approvalId, 'approve');
    expect(approved.body['state']).toBe('approved');
    expect((approved.body['decisions'] as unknown[]).length).toBe(2);
    expect((await api.invocation(requester.key, call.body['id'] as string)).state).toBe('queued');
  });

  it('only approvers decide; a requester may withdraw their own call; an approvers list replaces the role', async () => {
    const operator = await api.mintKey(acme.adminKey, 'Opal Operator', ['execution'], ['operator']);
    const call = await api.invoke(operator.key, 'drop_it', {});
    const other = await api.invoke(acme.adminKey, 'drop_it', {});
    expect((await decide(operator.key, other.body['approval_id'] as string, 'approve')).body.error?.code).toBe(
      'approver_not_allowed',
    );
    expect((await decide(operator.key, call.body['approval_id'] as string, 'reject')).body['state']).toBe('rejected');

    const listed = await api.mintKey(acme.adminKey, 'Listed Approver', ['execution'], ['operator']);
    const bogus = await policy({ approvers: ['usr_000000000000'] });
    expect([bogus.status, bogus.body.error?.code]).toEqual([400, 'invalid_body']);
    expect((await policy({ approvers: [listed.principalId] })).status).toBe(200);
    const approver = await api.mintKey(acme.adminKey, 'Unlisted Approver');
    expect((await decide(approver.key, other.body['approval_id'] as string, 'approve')).body.error?.code).toBe(
      'approver_not_allowed',
    );
    expect((await decide(listed.key, other.body['approval_id'] as string, 'approve')).body['state']).toBe('approved');
  });

  it('read and write calls wait for approval when the workspace asks for it', async () => {
    await policy({ approval_required_read: true });
    const call = await api.invoke(acme.adminKey, 'look', {});
    expect(call.body).toMatchObject({ state: 'pending_approval', risk: 'read' });
    const reviewer = await api.mintKey(acme.adminKey, 'Read Reviewer');
    expect((await decide(reviewer.key, call.body['approval_id'] as string, 'approve')).body['state']).toBe('approved');
  });

  it('disabling a person stops their keys and sessions at once; the last admin stays', async () => {
    const email = 'dana@people.test';
    const added = await api.call('POST', '/management/users', acme.adminKey, {
      email,
      display_name: 'Dana',
      roles: ['operator', 'approver'],
      password: PASSWORD,
    });
    const dana = added.body['id'] as string;
    const session = await signIn(app, email, PASSWORD, acme.project.slug);
    const key = (
      await api.call('POST', '/management/api-keys', acme.adminKey, {
        name: 'dana',
        scopes: ['execution'],
        owner: dana,
      })
    ).body['key'] as string;
    expect((await api.call('GET', '/exec/invocations', session.body['key'] as string)).status).toBe(200);
    const disabled = await api.call('PATCH', `/management/members/${dana}`, acme.adminKey, { status: 'disabled' });
    expect(disabled.body['status']).toBe('disabled');
    expect((await api.call('GET', '/exec/invocations', key)).body.error?.code).toBe('principal_disabled');
    expect((await api.call('GET', '/exec/invocations', session.body['key'] as string)).status).toBe(401);
    expect((await signIn(app, email, PASSWORD, acme.project.slug)).body.error?.code).toBe('invalid_credentials');

    expect(
      (await api.call('PUT', `/management/members/${acme.adminId}/roles`, acme.adminKey, { roles: ['viewer'] })).body
        .error?.code,
    ).toBe('last_admin');
    expect((await api.call('DELETE', `/management/members/${acme.adminId}`, acme.adminKey)).body.error?.code).toBe(
      'last_admin',
    );
  });

  it('an admin of one project cannot disable a person who also belongs to another they do not run', async () => {
    const other = await seedProject(harness.pool);
    const shared = await execClient(app, other.project.id).call('POST', '/management/users', other.adminKey, {
      email: 'shared@people.test',
      display_name: 'Shared',
      roles: ['viewer'],
    });
    const joined = await api.call('POST', '/management/users', acme.adminKey, {
      email: 'SHARED@people.test',
      display_name: 'ignored',
      roles: ['viewer'],
    });
    const sharedId = shared.body['id'] as string;
    expect(joined.body).toMatchObject({ id: sharedId, display_name: 'Shared' });
    const refused = await api.call('PATCH', `/management/members/${sharedId}`, acme.adminKey, {
      status: 'disabled',
    });
    expect(refused.body.error?.code).toBe('user_in_other_projects');
    expect((await api.call('DELETE', `/management/members/${sharedId}`, acme.adminKey)).status).toBe(204);
  });
});

describe('sign-in with a password', () => {
  let harness: AppHarness;
  let app: FastifyInstance;
  let acme: SeededProject;
  const log = capturingLogger('trace');

  beforeAll(async () => {
    harness = await startAppHarness({
      app: {
        logger: log.logger,
        identity: {
          ...DEFAULT_IDENTITY,
          lockoutFailures: 3,
          lockoutSeconds: 600,
          signInPerMinute: 8,
          sessionMaxSeconds: 3_600,
        },
      },
    });
    ({ app, acme } = harness);
    await execClient(app, acme.project.id).call('POST', '/management/users', acme.adminKey, {
      email: 'pat@people.test',
      display_name: 'Pat',
      roles: ['operator'],
      password: PASSWORD,
    });
  });
  afterAll(() => harness.close());

  it('opens a scoped session that works, refreshes within its limit, is listed, and ends on sign-out', async () => {
    const opened = await signIn(app, 'Pat@People.test', PASSWORD, acme.project.slug, 'cli');
    expect(opened.status).toBe(201);
    expect(opened.body).toMatchObject({
      object: 'session',
      client: 'cli',
      method: 'password',
      scopes: ['inference', 'execution', 'management'],
    });
    const key = opened.body['key'] as string;
    const project = acme.project.id;
    const whoami = await app.inject({ method: 'GET', url: `/${project}/v1/auth/whoami`, headers: bearer(key) });
    expect(whoami.json()).toMatchObject({
      principal: { email: 'pat@people.test' },
      roles: ['operator'],
      channel: 'cli',
      key: { kind: 'session' },
    });
    expect(whoami.json().permissions).not.toContain('manage.write');
    const refreshed = await app.inject({
      method: 'POST',
      url: `/${project}/v1/auth/sessions/current/refresh`,
      headers: bearer(key),
    });
    expect(Date.parse(refreshed.json().expires_at)).toBeLessThanOrEqual(
      Date.parse(opened.body['refresh_until'] as string),
    );
    const listed = await app.inject({ method: 'GET', url: `/${project}/v1/auth/sessions`, headers: bearer(key) });
    expect(listed.json().data).toEqual([expect.objectContaining({ id: opened.body['id'], current: true })]);
    expect(JSON.stringify(listed.json())).not.toContain(key);
    const keyRefresh = await app.inject({
      method: 'POST',
      url: `/${project}/v1/auth/sessions/current/refresh`,
      headers: bearer(acme.adminKey),
    });
    expect(keyRefresh.json().error.code).toBe('session_not_refreshable');
    expect(
      (await app.inject({ method: 'DELETE', url: `/${project}/v1/auth/sessions/current`, headers: bearer(key) }))
        .statusCode,
    ).toBe(204);
    expect(
      (await app.inject({ method: 'GET', url: `/${project}/v1/auth/whoami`, headers: bearer(key) })).json().error.code,
    ).toBe('invalid_api_key');
  });

  it('says the same for a wrong password and an unknown account, and locks either after repeated failures', async () => {
    const wrong = await signIn(app, 'pat@people.test', 'not the password at all', acme.project.slug);
    const unknown = await signIn(app, 'nobody@people.test', 'not the password at all', acme.project.slug);
    expect([wrong.status, wrong.body.error?.code]).toEqual([401, 'invalid_credentials']);
    expect(unknown.body.error).toEqual({ ...wrong.body.error });
    await signIn(app, 'pat@people.test', 'still not the password', acme.project.slug);
    await signIn(app, 'pat@people.test', 'and again not it', acme.project.slug);
    const locked = await signIn(app, 'pat@people.test', PASSWORD, acme.project.slug);
    expect([locked.status, locked.body.error?.code]).toEqual([429, 'sign_in_locked']);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(500);
    // An admin's reset lifts the lock.
    const pat = (await harness.pool.query("SELECT id FROM principals WHERE email = 'pat@people.test'")).rows[0]
      .id as string;
    const reset = await execClient(app, acme.project.id).call(
      'PUT',
      `/management/members/${pat}/password`,
      acme.adminKey,
      {
        password: `${PASSWORD} 2`,
      },
    );
    expect(reset.status).toBe(204);
    expect((await signIn(app, 'pat@people.test', `${PASSWORD} 2`, acme.project.slug)).status).toBe(201);
  });

  it('throttles one address whatever the accounts, refuses weak passwords and non-members, and logs no secret', async () => {
    const other = await seedProject(harness.pool);
    expect((await signIn(app, 'pat@people.test', `${PASSWORD} 2`, other.project.slug)).body.error?.code).toBe(
      'not_a_member',
    );
    const weak = await execClient(app, acme.project.id).call('POST', '/management/users', acme.adminKey, {
      email: 'weak@people.test',
      display_name: 'Weak',
      roles: ['viewer'],
      password: 'short',
    });
    expect(weak.body.error?.code).toBe('weak_password');
    let answer = await signIn(app, `spray-0@people.test`, 'guess-0-guess-0', acme.project.slug);
    for (let index = 1; index < 12 && answer.status !== 429; index += 1)
      answer = await signIn(app, `spray-${index}@people.test`, `guess-${index}-guess`, acme.project.slug);
    expect([answer.status, answer.body.error?.code]).toEqual([429, 'rate_limited']);
    const logged = log.lines().join('\n');
    expect(logged).not.toContain(PASSWORD);
    expect(logged).not.toContain('guess-0-guess-0');
  });
});

async function signIn(app: FastifyInstance, email: string, password: string, project: string, client = 'api') {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/auth/sessions',
    payload: { method: 'password', email, password, project, client },
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: response.json() as Record<string, unknown> & { error?: { code: string } },
  };
}
