import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { generateCurveKeyPair } from '../../services/protocol/curve-keys.js';
import { hashManifest } from '../../services/protocol/manifest.js';
import { meshRoutingId } from '../../services/protocol/routing-id.js';
import { generateSigningKeyPair } from '../../services/protocol/signing.js';
import { execClient, type ExecClient } from '../helpers/exec-client.js';
import { bearer, seedProject } from '../helpers/fixtures.js';
import { withPgClient } from '../helpers/pg-admin.js';
import { readSse, spawnXemAgent, waitFor, type Spawned } from '../helpers/processes.js';
import { RawPeer } from '../helpers/raw-agent.js';
import { commandTool } from '../helpers/bundles.js';
import { startRouterHarness, type RouterHarness } from '../helpers/router-harness.js';

// The attacker's side of the trust boundaries (docs/security.md): agents enrolled with ordinary
// join keys — of this project and of another — lying about tools and forging reports, against a
// router with its mesh gateway, a real XEM agent process, real CURVE and Postgres.

const tool = (name: string, risk: string, argv: string[], parameters?: object) =>
  commandTool(name, risk, argv, parameters ? { parameters } : {});
const BUNDLE = {
  name: 'testkit',
  version: '1.0.0',
  domain: 'test',
  tools: [
    tool('purge_cache', 'destructive', ['echo', 'purged']),
    tool('slow_echo', 'read', ['sh', '-c', 'sleep 2; echo real-output']),
    tool('tidy_logs', 'write', ['echo', 'tidied']),
  ],
};

describe('trust boundaries: what an enrolled agent cannot do', () => {
  let router: RouterHarness;
  let api: ExecClient;
  let admin: string;
  let operator: { id: string; key: string };
  let workspace: string;
  let realAgent: string;
  let run: Spawned;
  const peers: RawPeer[] = [];
  const dir = mkdtempSync(join(REPO_ROOT, '.xerotier', 'trust-e2e-'));

  beforeAll(async () => {
    router = await startRouterHarness({ leaseRenewalIntervalMs: 500, heartbeatTimeoutMs: 5_000 });
    api = execClient(router.app, router.project.project.id);
    admin = router.project.adminKey;
    workspace = router.project.workspace.id;
    operator = await api.mintKey(admin, 'operator');
    mkdirSync(join(dir, 'tools', 'testkit'), { recursive: true });
    writeFileSync(join(dir, 'tools', 'testkit', 'bundle.yaml'), stringify(BUNDLE));
    mkdirSync(join(dir, 'credentials', workspace), { recursive: true });
    run = spawnXemAgent({
      routerUrl: router.url,
      joinKey: await router.mintJoinKey(),
      name: 'xem-real',
      dir,
      intervalMs: 500,
    });
    realAgent = await new Promise<string>((resolve) =>
      run.child.once('message', (message: { agent_id: string }) => resolve(message.agent_id)),
    );
    await waitFor("the real agent's manifest", 20_000, async () =>
      (await api.call('GET', `/management/agents/${realAgent}/tools`, admin)).status === 200 ? true : undefined,
    );
    await api.bind(admin, workspace, realAgent);
    await waitFor('the real agent online', 20_000, async () =>
      (await api.call('GET', '/exec/tools/purge_cache', operator.key)).body['online_agents'] === 1 ? true : undefined,
    );
  }, 60_000);
  afterAll(async () => {
    for (const peer of peers) peer.close();
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
    await router.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** An agent enrolled with an ordinary join key (of this project, or of `projectId`), bound to a connection. */
  async function rogue(
    name: string,
    project?: { id: string; adminKey: string },
    role: 'xem' | 'xim' = 'xem',
  ): Promise<{ peer: RawPeer; agentId: string }> {
    const curve = generateCurveKeyPair();
    const signing = generateSigningKeyPair();
    const projectId = project?.id ?? router.project.project.id;
    const minted = await router.app.inject({
      method: 'POST',
      url: `/${projectId}/v1/management/join-keys`,
      headers: bearer(project?.adminKey ?? admin),
      payload: { role, name },
    });
    const enrolled = await router.app.inject({
      method: 'POST',
      url: '/v1/enroll',
      payload: {
        join_key: minted.json().key,
        role,
        registration_name: name,
        signing_public_key: Buffer.from(signing.publicKey).toString('hex'),
        curve_public_key: curve.publicKey,
      },
    });
    const agentId = (enrolled.json() as { agent_id: string }).agent_id;
    const peer = new RawPeer(router.mesh.server.endpoint, router.routerCurvePublicKey, {
      curve,
      signing,
      routingId: meshRoutingId(agentId),
    });
    peers.push(peer);
    expect(await peer.bind(agentId, role)).toBeDefined();
    return { peer, agentId };
  }

  /** The rogue's manifest: every tool of the real bundle, each declared harmless. */
  async function declareHarmless(peer: RawPeer, agentId: string): Promise<void> {
    const manifest = {
      workspaces: [workspace],
      tools: BUNDLE.tools.map((t) => ({
        name: t.name,
        description: t.description,
        risk: 'read',
        parameters: t.parameters,
        timeout_ms: 30_000,
        bundle: 'testkit',
        bundle_version: '6.6.6',
      })),
    };
    await peer.send('lease_renewal', {
      manifest_hash: hashManifest(manifest),
      manifest_version: 1,
      capacity: { max_concurrent: 4, in_use: 0 },
      in_flight: [],
      manifest,
    });
    await waitFor('the rogue manifest stored', 10_000, async () =>
      (
        await router.pool.query("SELECT 1 FROM agents WHERE id = $1 AND status = 'active' AND manifest IS NOT NULL", [
          agentId,
        ])
      ).rowCount === 1
        ? true
        : undefined,
    );
  }

  it('an unbound agent declaring a destructive tool harmless changes nothing anyone sees', async () => {
    const { peer, agentId } = await rogue('xem-liar');
    await declareHarmless(peer, agentId);
    const shown = await api.call('GET', '/exec/tools/purge_cache', operator.key);
    expect(shown.body).toMatchObject({
      risk: 'destructive',
      requires_approval: true,
      conflict: null,
      agents: [{ agent_id: realAgent }],
    });
    const call = await api.invoke(operator.key, 'purge_cache', {});
    expect(call.body).toMatchObject({ state: 'pending_approval', risk: 'destructive' });
    await api.call('POST', `/exec/invocations/${call.body['id'] as string}/cancel`, operator.key, {});
  });

  it('a bound agent disagreeing about a tool: the strictest risk wins, the conflict shows in the API and the audit log', async () => {
    const { peer, agentId } = await rogue('xem-bound-liar');
    await declareHarmless(peer, agentId);
    await api.bind(admin, workspace, agentId);
    const shown = await api.call('GET', '/exec/tools/purge_cache', operator.key);
    expect(shown.body).toMatchObject({
      risk: 'destructive',
      declared_risk: 'destructive',
      conflict: { fields: ['risk', 'bundle_version'] },
    });
    const offers = (shown.body['conflict'] as { offers: { agent_id: string; risk: string }[] }).offers;
    expect(offers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ agent_id: agentId, risk: 'read' }),
        expect.objectContaining({ agent_id: realAgent, risk: 'destructive' }),
      ]),
    );
    expect((await api.invoke(operator.key, 'purge_cache', {})).body).toMatchObject({
      state: 'pending_approval',
      risk: 'destructive',
    });
    const audited = await waitFor(
      'the conflict audited',
      5_000,
      async () =>
        (
          await router.pool.query(
            "SELECT detail FROM execution_audit_log WHERE event = 'tool.descriptor_conflict' AND detail->>'tool' = 'purge_cache'",
          )
        ).rows[0] as { detail: { effective_risk: string } } | undefined,
    );
    expect(audited.detail.effective_risk).toBe('destructive');
    // Seen again (by this or another router), the same disagreement is recorded once.
    await api.call('GET', '/exec/tools/purge_cache', operator.key);
    expect(
      (await router.pool.query("SELECT count(*)::int AS n FROM tool_conflicts WHERE tool = 'purge_cache'")).rows[0].n,
    ).toBe(1);
    await api.call('DELETE', `/management/workspaces/${workspace}/bindings/${agentId}`, admin);
    peer.close();
  });

  it("an operator raises a tool's risk in a workspace; the override can never lower one", async () => {
    expect(
      (
        await api.call('PUT', `/management/workspaces/${workspace}/tool-risks/tidy_logs`, admin, {
          risk: 'destructive',
          reason: 'production logs',
        })
      ).status,
    ).toBe(200);
    expect((await api.invoke(operator.key, 'tidy_logs', {})).body).toMatchObject({
      state: 'pending_approval',
      risk: 'destructive',
    });
    expect(
      (await api.call('PUT', `/management/workspaces/${workspace}/tool-risks/purge_cache`, admin, { risk: 'write' }))
        .status,
    ).toBe(200);
    expect((await api.call('GET', '/exec/tools/purge_cache', operator.key)).body).toMatchObject({
      risk: 'destructive',
      risk_override: { risk: 'write' },
    });
    expect(
      (await api.call('PUT', `/management/workspaces/${workspace}/tool-risks/purge_cache`, admin, { risk: 'read' }))
        .status,
    ).toBe(400);
    await api.call('DELETE', `/management/workspaces/${workspace}/tool-risks/purge_cache`, admin);
    await api.call('DELETE', `/management/workspaces/${workspace}/tool-risks/tidy_logs`, admin);
  });

  for (const [who, other] of [
    ['of the same project', false],
    ['of another project', true],
  ] as const) {
    it(`forged result, progress and output from an agent ${who} are refused, audited, and never block the real result`, async () => {
      const intruder = other ? await seedProject(router.pool) : undefined;
      const { peer, agentId: rogueId } = await rogue(
        `xem-forger-${other ? 'b' : 'a'}`,
        intruder && { id: intruder.project.id, adminKey: intruder.adminKey },
      );
      const call = await api.invoke(operator.key, 'slow_echo', {});
      const id = call.body['id'] as string;
      const events = readSse(
        `${router.url}/${router.project.project.id}/v1/exec/invocations/${id}/events`,
        bearer(operator.key),
        (event) => event.event === 'state' && (event.data as { state: string }).state === 'succeeded',
      );
      await api.until(operator.key, id, 'running');
      const forged = { invocation_id: id, attempt: 1 };
      await peer.send('exec.progress', { ...forged, seq: 0, stream: 'stdout', data: 'FORGED progress' });
      await peer.send('exec.output', { ...forged, index: 1, data: 'FORGED chunk' });
      const result = await peer.send('exec.result', {
        ...forged,
        status: 'succeeded',
        exit_code: 0,
        output: 'FORGED output',
        output_truncated: false,
        duration_ms: 1,
      });
      const ack = await waitFor('the refusal', 5_000, async () => {
        const next = await peer.next('ack', 200);
        return next?.body.ack_id === result.id ? next : undefined;
      });
      expect(ack.body).toMatchObject({
        status: 'rejected',
        reason: expect.stringContaining('not_the_dispatched_agent'),
      });
      const done = await api.until(operator.key, id, 'succeeded');
      expect(done).toMatchObject({ agent_id: realAgent, result: { status: 'succeeded' } });
      const output = await api.call('GET', `/exec/invocations/${id}/output`, operator.key);
      expect(output.body).toMatchObject({ output: 'real-output\n', output_complete: true });
      const seen = await events;
      expect(JSON.stringify(seen)).not.toContain('FORGED');
      expect(JSON.stringify(seen)).toContain('real-output');
      const refused = await router.pool.query<{ event: string; detail: { reason: string; agent_id: string } }>(
        "SELECT event, detail FROM execution_audit_log WHERE subject = $1 AND event LIKE 'invocation.%_refused' ORDER BY position",
        [id],
      );
      expect(refused.rows.map((row) => row.event)).toEqual([
        'invocation.progress_refused',
        'invocation.output_refused',
        'invocation.result_refused',
      ]);
      expect(
        refused.rows.every(
          (row) => row.detail.reason === 'not_the_dispatched_agent' && row.detail.agent_id === rogueId,
        ),
      ).toBe(true);
      expect(
        (await router.pool.query('SELECT count(*)::int AS n FROM exec_output_chunks WHERE invocation_id = $1', [id]))
          .rows[0].n,
      ).toBe(0);
    });
  }

  it("a stale attempt's late result is refused, not stored, whoever sends it", async () => {
    const call = await api.invoke(operator.key, 'slow_echo', {});
    const id = call.body['id'] as string;
    await api.until(operator.key, id, 'succeeded');
    const { peer } = await rogue('xem-late');
    const late = await peer.send('exec.result', {
      invocation_id: id,
      attempt: 1,
      status: 'failed',
      exit_code: 1,
      output: 'late',
      output_truncated: false,
      duration_ms: 1,
    });
    const ack = await waitFor('the refusal', 5_000, async () => {
      const next = await peer.next('ack', 200);
      return next?.body.ack_id === late.id ? next : undefined;
    });
    expect(ack.body.status).toBe('rejected');
    expect((await api.call('GET', `/exec/invocations/${id}/output`, operator.key)).body).toMatchObject({
      output: 'real-output\n',
      status: 'succeeded',
    });
  });

  it('every agent signature in the log verifies against its registered key, and a forged one is named', async () => {
    const verdict = (await api.call('GET', '/management/audit/verify', admin)).body;
    expect(verdict).toMatchObject({ ok: true, first_broken: null });
    expect((verdict['signatures'] as { verified: number }).verified).toBeGreaterThan(0);
    // A database superuser rewrites a stored result's output; the agent's signature no longer covers it.
    const victim = (
      await router.pool.query<{ position: string; subject: string }>(
        'SELECT position::text, subject FROM execution_audit_log WHERE signature IS NOT NULL ORDER BY position DESC LIMIT 1',
      )
    ).rows[0]!;
    const original = (
      await router.pool.query<{ output: string }>('SELECT output FROM exec_results WHERE invocation_id = $1', [
        victim.subject,
      ])
    ).rows[0]!.output;
    await withPgClient(router.db.ownerUrl, (client) =>
      client.query("UPDATE exec_results SET output = 'nothing happened' WHERE invocation_id = $1", [victim.subject]),
    );
    const broken = (await api.call('GET', '/management/audit/verify', admin)).body;
    expect(broken).toMatchObject({
      ok: false,
      first_broken: { position: Number(victim.position), problem: 'signature_invalid' },
    });
    // Restored, it verifies again: the check is of content, not of a flag.
    await withPgClient(router.db.ownerUrl, (client) =>
      client.query('UPDATE exec_results SET output = $2 WHERE invocation_id = $1', [victim.subject, original]),
    );
    expect((await api.call('GET', '/management/audit/verify', admin)).body).toMatchObject({ ok: true });
  });

  it("inference chunks, ends and errors from any agent but the stream's are refused and audited; the stream is untouched", async () => {
    const { peer: gpu, agentId: gpuId } = await rogue('xim-honest', undefined, 'xim');
    const { peer: forger, agentId: forgerId } = await rogue('xim-forger', undefined, 'xim');
    const requestId = `req_${Date.now()}`;
    const stream = await router.inference.broker.open(gpuId, {
      request_id: requestId,
      project_id: router.project.project.id,
      model: 'm',
      request: { messages: [] },
    });
    expect(await gpu.next('infer.request', 5_000)).toBeDefined();
    const forged = await forger.send('infer.chunk', {
      request_id: requestId,
      seq: 0,
      chunks: [{ choices: [{ delta: { content: 'FORGED' } }] }],
    });
    await forger.send('infer.done', { request_id: requestId });
    const refused = await waitFor('the refusal', 5_000, async () => {
      const next = await forger.next('ack', 200);
      return next?.body.ack_id === forged.id ? next : undefined;
    });
    expect(refused.body).toMatchObject({ status: 'rejected', reason: expect.stringContaining('not_your_stream') });
    await gpu.send('infer.chunk', {
      request_id: requestId,
      seq: 0,
      chunks: [{ choices: [{ delta: { content: 'real' } }] }],
    });
    await gpu.send('infer.done', { request_id: requestId });
    const seen: unknown[] = [];
    for await (const event of stream) seen.push(event);
    expect(JSON.stringify(seen)).not.toContain('FORGED');
    expect(seen).toEqual([
      { kind: 'chunks', seq: 0, chunks: [{ choices: [{ delta: { content: 'real' } }] }] },
      { kind: 'done' },
    ]);
    const audited = await waitFor(
      'the refusal audited',
      5_000,
      async () =>
        (
          await router.pool.query(
            "SELECT detail FROM execution_audit_log WHERE event = 'agent.frame_refused' AND subject = $1",
            [forgerId],
          )
        ).rows[0] as { detail: { request_id: string; reason: string } } | undefined,
    );
    expect(audited.detail).toMatchObject({ request_id: requestId, reason: 'not_your_stream' });
  });

  it('refuses bodies the mesh could not carry with a 400, never a 500', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 40; i += 1) deep = { d: deep };
    const tooDeep = await api.call('POST', '/exec/invocations', operator.key, { tool: 'slow_echo', args: { deep } });
    expect(tooDeep).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_body', message: expect.stringContaining('nests deeper') } },
    });
    const response = await router.app.inject({
      method: 'POST',
      url: `/${router.project.project.id}/v1/exec/invocations`,
      headers: { ...bearer(operator.key), 'content-type': 'application/json' },
      payload: '{"tool":"slow_echo","args":{"n":123456789012345678901234567890}}',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'invalid_body', message: expect.stringContaining('2^53') });
    const enrollment = {
      join_key: 'xjk_x',
      role: 'xem',
      registration_name: 'x',
      signing_public_key: '0'.repeat(64),
      curve_public_key: 'x'.repeat(40),
    };
    expect(
      (await router.app.inject({ method: 'POST', url: '/v1/enroll', payload: { ...enrollment, manifest: { deep } } }))
        .statusCode,
    ).toBe(400);
    const oversized = await router.app.inject({
      method: 'POST',
      url: '/v1/enroll',
      payload: { ...enrollment, manifest: { tools: [{ description: 'x'.repeat(600 * 1024) }] } },
    });
    expect(oversized.statusCode).toBe(413);
    expect(oversized.json().error.code).toBe('payload_too_large');
  });
});
