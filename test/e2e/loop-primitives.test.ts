import type OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PREVIEW_CSP } from '../../services/router/http/mockup-preview.js';
import { createArtifact } from '../../services/router/knowledge/artifacts.js';
import { labBundle } from '../helpers/bundles.js';
import { startLoopStack, type LoopStack } from '../helpers/loop-stack.js';
import { waitFor } from '../helpers/processes.js';

const MODEL = 'scripted/primitives';
const labkit = labBundle('disk_usage', 'uptime', 'big_report', 'set_flag', 'restart_service', 'wipe_volume');

type Item = Record<string, unknown> & { type: string };
const items = (response: { output: unknown[] }) => response.output as Item[];
const calls = (response: { output: unknown[] }, name?: string) =>
  items(response).filter((item) => item.type === 'mcp_call' && (!name || item['name'] === name));

/**
 * The loop's primitives with real processes: a router, a XEM agent (with router-callback
 * credentials, so `deep_think` dials back into this router), a XIM agent on the scripted engine,
 * and the official openai package as the client.
 */
describe('loop primitives: forks, artifacts, subplans, mockups, memories, questions, templates, learnings', () => {
  let stack: LoopStack;
  let client: OpenAI;
  let api: LoopStack['api'];
  let operator: LoopStack['operator'];
  const mcp = (extra: Record<string, unknown> = {}) => ({
    type: 'mcp' as const,
    server_label: stack.workspace,
    require_approval: 'never' as const,
    ...extra,
  });
  const newChat = async (title: string) =>
    (await api.call('POST', '/chats', operator.key, { title })).body as { id: string; default_branch_id: string };
  const ask = (input: string | unknown[], extra: Record<string, unknown> = {}) =>
    client.responses.create({
      model: MODEL,
      input,
      tools: [mcp()],
      ...extra,
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);

  beforeAll(async () => {
    stack = await startLoopStack({
      model: MODEL,
      bundle: labkit,
      prefix: 'primitives-e2e-',
      // deep_think calls the router back as a service account with inference access only.
      xemEnv: async ({ router, api: calls }) => ({
        XEM_ROUTER_AUTH_TOKEN: (
          await calls.mintKey(router.project.adminKey, 'XEM Callback', ['inference'], ['operator'])
        ).key,
        XEM_PROJECT_EXTERNAL_ID: router.project.project.id,
      }),
    });
    ({ client, api, operator } = stack);
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('forks the chat before an irreversible call runs: both branches in the chat API, x_context_fork to opted-in clients', async () => {
    const chat = await newChat('volumes');
    const exec = stack.clientFor(operator.key, 'default', { 'X-Xerotier-Events': 'exec' });
    const asked = await exec.responses.create({
      model: MODEL,
      input: 'wipe_volume now',
      tools: [mcp()],
      conversation: chat.id,
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    const request = items(asked).find((item) => item.type === 'mcp_approval_request')!;
    expect(request).toMatchObject({ name: 'wipe_volume', x_risk: 'irreversible' });
    const reviewer = await api.mintKey(stack.router.project.adminKey, 'Volume Reviewer');
    await api.call('POST', `/exec/approvals/${String(request['x_approval_id'])}/approve`, reviewer.key, {});
    const done = await waitFor('the turn going on after the approval', 20_000, async () => {
      const response = await client.responses.retrieve(asked.id);
      return response.status === 'completed' && calls(response, 'wipe_volume').length === 1 ? response : undefined;
    });
    expect(calls(done, 'wipe_volume')[0]).toMatchObject({ status: 'completed', output: 'wiped\n' });
    const view = (await api.call('GET', `/chats/${chat.id}`, operator.key)).body as {
      default_branch_id: string;
      branches: { id: string; parent_branch_id: string | null; fork_sequence: number | null; display_name: string }[];
    };
    expect(view.branches).toHaveLength(2);
    const fork = view.branches.find((branch) => branch.parent_branch_id === chat.default_branch_id)!;
    expect(fork.display_name).toMatch(/^auto-fork before wipe_volume \(inv_/);
    expect(view.default_branch_id).toBe(fork.id);
    const on = async (branch: string) =>
      (await api.call('GET', `/chats/${chat.id}/branches/${branch}/messages`, operator.key)).body['data'] as {
        role: string;
      }[];
    await waitFor('the continuation on the fork', 20_000, async () => (await on(fork.id)).length === 3 || undefined);
    expect(await on(chat.default_branch_id)).toHaveLength(2);
    // The event is kept with the response: a replay with the opt-in sees it, a plain one does not.
    const replay = async (headers: Record<string, string>) => {
      const events: { type: string; [key: string]: unknown }[] = [];
      const stream = await stack
        .clientFor(operator.key, 'default', headers)
        .responses.retrieve(asked.id, { stream: true, starting_after: -1 } as never);
      for await (const event of stream as unknown as AsyncIterable<{ type: string }>) events.push(event);
      return events;
    };
    const forkEvent = (await replay({ 'X-Xerotier-Events': 'exec' })).find((event) => event.type === 'x_context_fork');
    expect(forkEvent).toMatchObject({
      chat_id: chat.id,
      parent_branch_id: chat.default_branch_id,
      branch_id: fork.id,
      fork_sequence: 2,
      reason: { kind: 'irreversible_call', tool: 'wipe_volume' },
    });
    expect((await replay({})).some((event) => event.type.startsWith('x_'))).toBe(false);
  });

  it('a large result becomes an artifact the model reads back by range; the chats API lists and serves it', async () => {
    const chat = await newChat('reports');
    const first = await ask('big_report please', { conversation: chat.id });
    const call = calls(first, 'big_report')[0]!;
    const artifactId = String(call['x_artifact_id']);
    expect(artifactId).toMatch(/^cart_[0-9a-f]{24}$/);
    expect(String(call['output'])).toMatch(/^\[The output \(\d+ bytes, 2000 lines\) is stored as artifact cart_/);
    expect(String(call['output']).length).toBeLessThan(4_096);
    expect(String(call['output'])).toContain('line 1 of the big report');
    const read = await ask(`x_read_artifact {"artifact_id":"${artifactId}","start_line":1500,"end_line":1502}`, {
      conversation: chat.id,
    });
    const output = String(calls(read, 'x_read_artifact')[0]!['output']);
    expect(output).toContain('line 1500 of the big report\nline 1501 of the big report\nline 1502 of the big report');
    expect(output).not.toContain('line 1499 ');
    expect(output).toContain('lines 1503-');
    const bytes = await ask(`x_read_artifact {"artifact_id":"${artifactId}","offset":0,"length":100000}`, {
      conversation: chat.id,
    });
    expect(String(calls(bytes, 'x_read_artifact')[0]!['output'])).toMatch(/more bytes: read on from offset 16384/);
    const listed = await api.call('GET', `/chats/${chat.id}/artifacts`, operator.key);
    expect(listed.body['data']).toEqual([
      expect.objectContaining({
        id: artifactId,
        source: 'tool_output',
        latest_version: 1,
        content_type: 'text/plain; charset=utf-8',
      }),
    ]);
    const raw = await fetch(
      `${stack.router.url}/${stack.router.project.project.id}/v1/chats/${chat.id}/artifacts/${artifactId}/raw`,
      { headers: { authorization: `Bearer ${operator.key}` } },
    );
    expect(raw.headers.get('content-disposition')).toContain('attachment');
    expect((await raw.text()).split('\n')).toHaveLength(2001);
    // A new version through the model; the first stays readable.
    await ask(`x_update_artifact {"artifact_id":"${artifactId}","content":"summary: 2000 lines, all fine"}`, {
      conversation: chat.id,
    });
    const versions = (await api.call('GET', `/chats/${chat.id}/artifacts/${artifactId}`, operator.key)).body;
    expect((versions['versions'] as unknown[]).length).toBe(2);
    const v2 = await api.call('GET', `/chats/${chat.id}/artifacts/${artifactId}/versions/2`, operator.key);
    expect(v2.body).toMatchObject({ version: 2, content: 'summary: 2000 lines, all fine' });
    const audit = await api.call('GET', `/management/audit?subject=${artifactId}`, stack.router.project.adminKey);
    expect(JSON.stringify(audit.body)).not.toContain('summary: 2000 lines');
  });

  it('a subplan runs a nested loop with a narrower scope; wider scopes are refused; its approvals surface on the outer response', async () => {
    const subplan = (args: Record<string, unknown>) =>
      ask(`x_request_subplan ${JSON.stringify(args)}`, {
        tools: [mcp(), { type: 'mcp', server_label: 'xerotier' }],
        tool_choice: { type: 'function', name: 'x_request_subplan' },
      });
    const before = (await api.call('GET', '/exec/invocations?tool=uptime', operator.key)).body['data'] as unknown[];
    const ran = await subplan({ goal: 'check disk_usage and uptime', tools: ['disk_usage'] });
    const outer = calls(ran, 'x_request_subplan')[0]!;
    expect(outer).toMatchObject({
      status: 'completed',
      output: expect.stringContaining('disk_usage returned disk 42% full'),
    });
    const inner = calls(ran, 'disk_usage')[0]!;
    expect(inner['x_subplan']).toMatchObject({ id: outer['x_subplan_id'], depth: 1 });
    // uptime was named in the goal but not given: the nested model never had it.
    expect(calls(ran, 'uptime')).toHaveLength(0);
    const after = (await api.call('GET', '/exec/invocations?tool=uptime', operator.key)).body['data'] as unknown[];
    expect(after.length).toBe(before.length);
    const wider = await subplan({ goal: 'look around', tools: ['disk_usage', 'format_disk'] });
    expect(calls(wider, 'x_request_subplan')[0]).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('subplan_scope_too_wide: not yours to give: format_disk'),
    });
    const narrowed = await client.responses.create({
      model: MODEL,
      input: 'x_request_subplan {"goal":"check uptime","tools":["uptime"]}',
      tools: [mcp({ allowed_tools: ['disk_usage'] }), { type: 'mcp', server_label: 'xerotier' }],
      tool_choice: { type: 'function', name: 'x_request_subplan' },
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    expect(String(calls(narrowed, 'x_request_subplan')[0]!['error'])).toContain('not yours to give: uptime');
    // A destructive call inside the subplan waits for a person, asked on the outer response.
    const stopped = await subplan({ goal: 'restart_service now', tools: ['restart_service'] });
    const request = items(stopped).find((item) => item.type === 'mcp_approval_request')!;
    expect(request).toMatchObject({ name: 'restart_service', x_subplan: { depth: 1 } });
    expect(stopped.status).toBe('completed');
    const answered = await client.responses.create({
      model: MODEL,
      previous_response_id: stopped.id,
      input: [{ type: 'mcp_approval_response', approval_request_id: String(request['id']), approve: true }],
      tools: [mcp(), { type: 'mcp', server_label: 'xerotier' }],
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    expect(calls(answered, 'restart_service')[0]).toMatchObject({ status: 'completed', output: 'restarted\n' });
    expect(answered.output_text).toContain('restarted');
  });

  it('builds a mockup in three calls and serves it sandboxed under its CSP, without cookies', async () => {
    const chat = await newChat('status page');
    const file = (path: string, content: string) =>
      `x_add_mockup_file ${JSON.stringify({ identifier: 'status-page', path, content })}`;
    const built = await ask(
      [
        file(
          'index.html',
          '<!doctype html><link rel="stylesheet" href="css/site.css"><h1>All good</h1><script src="app.js"></script>',
        ),
        file('css/site.css', 'h1 { color: green; }'),
        file('app.js', 'document.title = "Status";'),
      ].join(' then '),
      { conversation: chat.id },
    );
    expect(calls(built, 'x_add_mockup_file').map((call) => call['status'])).toEqual([
      'completed',
      'completed',
      'completed',
    ]);
    const mockup = (await api.call('GET', `/chats/${chat.id}/mockups/status-page`, operator.key)).body as {
      preview_path: string;
      version: number;
      files: { path: string }[];
    };
    expect(mockup.version).toBe(3);
    expect(mockup.files.map((entry) => entry.path)).toEqual(['app.js', 'css/site.css', 'index.html']);
    const page = await fetch(`${stack.router.url}${mockup.preview_path}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toBe(PREVIEW_CSP);
    expect(page.headers.get('set-cookie')).toBeNull();
    expect(await page.text()).toContain('<h1>All good</h1>');
    const css = await fetch(`${stack.router.url}${mockup.preview_path.replace('index.html', 'css/site.css')}`);
    expect(css.headers.get('content-type')).toContain('text/css');
    const forged = mockup.preview_path.replace(/\/[0-9a-f]{64}\//, `/${'0'.repeat(64)}/`);
    expect((await fetch(`${stack.router.url}${forged}`)).status).toBe(404);
    const read = await ask('x_read_mockup {"identifier":"status-page","what":"bundle"}', { conversation: chat.id });
    const bundle = JSON.parse(String(calls(read, 'x_read_mockup')[0]!['output'])) as { files: { path: string }[] };
    expect(bundle.files).toHaveLength(3);
    // Outside a chat there is nowhere to keep a bundle: the model is told so.
    const loose = await ask(file('index.html', 'x'), { tools: [mcp(), { type: 'mcp', server_label: 'xerotier' }] });
    expect(String(calls(loose, 'x_add_mockup_file')[0]!['error'])).toContain('kept in a chat');
  });

  it('a memory saved in one chat is recalled and found by search in another; the memories API lists and deletes it', async () => {
    const first = await newChat('notes');
    await ask('x_save_memory {"content":"The staging database lives on db-stage-3","tags":["staging"]}', {
      conversation: first.id,
    });
    const second = await newChat('later');
    const recalled = await ask('x_recall_memory {"query":"where is the staging database"}', {
      conversation: second.id,
    });
    const memories = JSON.parse(String(calls(recalled, 'x_recall_memory')[0]!['output'])) as {
      memories: { id: string; content: string }[];
    };
    expect(memories.memories[0]).toMatchObject({ content: 'The staging database lives on db-stage-3' });
    const searched = await ask('x_workspace_search {"query":"staging database"}', { conversation: second.id });
    const hits = (
      JSON.parse(String(calls(searched, 'x_workspace_search')[0]!['output'])) as {
        hits: { kind: string; snippet: string }[];
      }
    ).hits;
    expect(hits.map((hit) => hit.kind)).toEqual(expect.arrayContaining(['memory', 'message']));
    expect(hits.find((hit) => hit.kind === 'memory')!.snippet).toContain('«staging»');
    const listed = await api.call('GET', '/knowledge/memories', operator.key);
    const id = memories.memories[0]!.id;
    expect((listed.body['data'] as { id: string }[]).map((memory) => memory.id)).toContain(id);
    const viaApi = await api.call('GET', '/knowledge/search?q=db-stage-3&kinds=memory', operator.key);
    expect((viaApi.body['data'] as { id: string }[])[0]!.id).toBe(id);
    expect((await api.call('DELETE', `/knowledge/memories/${id}`, operator.key)).status).toBe(204);
    const gone = await ask('x_recall_memory {"query":"staging database"}', { conversation: second.id });
    expect(JSON.parse(String(calls(gone, 'x_recall_memory')[0]!['output']))).toEqual({ memories: [] });
  });

  it('x_ask_user ends the turn with the question (an event for opted-in clients), and the answer continues it', async () => {
    const chat = await newChat('which cluster');
    const exec = stack.clientFor(operator.key, 'default', { 'X-Xerotier-Events': 'exec' });
    const stream = await exec.responses.create({
      model: MODEL,
      input: 'x_ask_user {"question":"Which cluster?","choices":["prod","staging"]}',
      tools: [mcp()],
      conversation: chat.id,
      stream: true,
    } as OpenAI.Responses.ResponseCreateParamsStreaming);
    const events: { type: string; [key: string]: unknown }[] = [];
    for await (const event of stream as AsyncIterable<{ type: string }>) events.push(event);
    expect(events.find((event) => event.type === 'x_ask_user.question')).toMatchObject({
      question: 'Which cluster?',
      choices: ['prod', 'staging'],
    });
    const final = events.at(-1) as unknown as { type: string; response: OpenAI.Responses.Response };
    expect(final.type).toBe('response.completed');
    expect(final.response.output_text ?? '').toBe('');
    const question = items(final.response).at(-1)!;
    expect(question).toMatchObject({ type: 'message', x_ask_user: { question: 'Which cluster?' } });
    const answered = await ask('staging', { conversation: chat.id });
    expect(answered.output_text).toContain('"staging"');
    const branch = (
      await api.call('GET', `/chats/${chat.id}/branches/${chat.default_branch_id}/messages`, operator.key)
    ).body['data'] as unknown[];
    expect(branch).toHaveLength(4);
  });

  it('deep_think on the agent dials back into this router with its callback token and answers through the real API', async () => {
    const response = await ask('deep_think {"question":"is the cache warm?"}');
    const call = calls(response, 'deep_think')[0]!;
    expect(call).toMatchObject({ status: 'completed' });
    expect(String(call['output'])).toContain('This is a scripted answer to: "is the cache warm?"');
  });

  it('a template pins its version, offers its tools, puts its prompt first, and restricted makes a write call wait for approval', async () => {
    const admin = stack.router.project.adminKey;
    const created = await api.call('POST', '/templates', admin, {
      name: 'flag-flipper',
      description: 'Flip flags carefully',
      system_prompt: 'You flip feature flags, one at a time (version one).',
      allowed_tools: ['disk_usage', 'set_flag', 'x_ask_user'],
      approval_policy: 'restricted',
      tags: ['flags'],
    });
    expect(created.status).toBe(201);
    const template = created.body as { id: string; version: { version: number } };
    expect(
      (await api.call('POST', '/templates', admin, { name: 'typo', system_prompt: 'x', allowed_tools: ['set_flagg'] }))
        .body,
    ).toMatchObject({
      error: { code: 'invalid_parameter', param: 'allowed_tools' },
    });
    const chat = (await api.call('POST', `/templates/${template.id}/apply`, operator.key, { title: 'flags' })).body as {
      id: string;
      template: { id: string; version: number };
    };
    expect(chat.template).toEqual({ id: template.id, version: 1 });
    // A later edit is a new version; the chat keeps the one it pinned.
    const revised = await api.call('PATCH', `/templates/${template.id}`, admin, {
      system_prompt: 'Version two prompt.',
    });
    expect(revised.body).toMatchObject({ latest_version: 2, version: { version: 2 } });
    expect(
      ((await api.call('GET', `/templates/${template.id}/versions`, operator.key)).body['data'] as unknown[]).length,
    ).toBe(2);
    const plain = (input: string) =>
      client.responses.create({
        model: MODEL,
        input,
        conversation: chat.id,
      } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    const shown = await plain('show your instructions');
    expect(shown.output_text).toContain('(version one)');
    expect(shown.output_text).not.toContain('Version two');
    const write = await plain('set_flag now');
    expect(items(write).find((item) => item.type === 'mcp_approval_request')).toMatchObject({
      name: 'set_flag',
      x_risk: 'write',
    });
    const read = await plain('disk_usage now');
    expect(items(read).find((item) => item.type === 'mcp_approval_request')).toMatchObject({ name: 'disk_usage' });
    // uptime is not among the template's tools: the model is not offered it.
    const listed = items(read).filter((item) => item.type === 'mcp_list_tools');
    expect(listed.flatMap((item) => (item['tools'] as { name: string }[]).map((entry) => entry.name)).sort()).toEqual([
      'disk_usage',
      'set_flag',
      'x_ask_user',
    ]);
    // Baseline templates ship; one for Kubernetes does not apply to an untyped workspace.
    const baseline = (await api.call('GET', '/templates?scope=platform', operator.key)).body['data'] as {
      id: string;
      name: string;
    }[];
    const drain = baseline.find((entry) => entry.name === 'drain-node')!;
    expect(baseline.map((entry) => entry.name)).toEqual(expect.arrayContaining(['drain-node', 'postgres-maintenance']));
    expect((await api.call('POST', `/templates/${drain.id}/apply`, operator.key, {})).body).toMatchObject({
      error: { code: 'template_not_applicable' },
    });
    const typed = await api.call('POST', '/management/workspaces', admin, { name: 'k8s-prod', type: 'kubernetes' });
    expect(
      (await api.call('POST', `/templates/${drain.id}/apply`, operator.key, { workspace_id: typed.body['id'] })).status,
    ).toBe(201);
    // Promotion to platform scope is for admins of the platform project.
    expect((await api.call('POST', `/templates/${template.id}/promote`, admin)).body).toMatchObject({
      error: { code: 'template_read_only' },
    });
    await stack.router.pool.query('UPDATE projects SET is_platform = true WHERE id = $1', [
      stack.router.project.project.id,
    ]);
    const promoted = await api.call('POST', `/templates/${template.id}/promote`, admin);
    expect(promoted.body).toMatchObject({
      scope: 'platform',
      promoted_from: template.id,
      version: { version: 1, system_prompt: 'Version two prompt.' },
    });
    expect((await api.call('PATCH', `/templates/${template.id}`, operator.key, { description: 'x' })).status).toBe(403);
  });

  it("learnings from one invocation are in the next turn's context with their ids; operators list, add and delete them", async () => {
    await ask('uptime please');
    const listed = (await api.call('GET', '/knowledge/learnings', operator.key)).body['data'] as {
      id: string;
      content: string;
      source: string;
      source_ref: string;
    }[];
    const learnt = listed.find((learning) => learning.content === 'uptime returned: up 3 days')!;
    expect(learnt).toMatchObject({ source: 'tool', source_ref: expect.stringMatching(/^inv_/) });
    // Named by its words, not by the tool (the scripted model would call a tool it hears named).
    const next = await ask('What returned up days ago? show your instructions');
    expect(next.output_text).toContain(`[${learnt.id}] uptime returned: up 3 days`);
    const added = await api.call('POST', '/knowledge/learnings', operator.key, {
      content: 'Never restart the ledger on Fridays',
    });
    expect(added.body).toMatchObject({ source: 'operator', score: 0.8 });
    const steered = await ask('Can I restart the ledger today? show your instructions');
    expect(steered.output_text).toContain('Never restart the ledger on Fridays');
    expect((await api.call('DELETE', `/knowledge/learnings/${String(added.body['id'])}`, operator.key)).status).toBe(
      204,
    );
    // Learnings steer the model: a key that may only chat reads them but does not curate them.
    const chatOnly = await api.mintKey(stack.router.project.adminKey, 'Chat Only', ['inference'], ['operator']);
    expect((await api.call('GET', '/knowledge/learnings', chatOnly.key)).status).toBe(200);
    expect((await api.call('POST', '/knowledge/learnings', chatOnly.key, { content: 'x' })).status).toBe(403);
  });

  it('plays the attacker: the model reaches no other workspace, people delete only their own, template versions never change', async () => {
    const admin = stack.router.project.adminKey;
    const other = (await api.call('POST', '/management/workspaces', admin, { name: 'elsewhere' })).body['id'] as string;
    const theirs = await createArtifact(
      stack.router.pool,
      { projectId: stack.router.project.project.id, workspaceId: other, chatId: null },
      { name: 'their notes', content: 'the other team keeps secrets here', source: 'api' },
      { principalId: operator.principalId, keyId: operator.id, channel: 'api' },
    );
    const chat = await newChat('prying');
    const read = await ask(`x_read_artifact {"artifact_id":"${theirs.artifact.id}"}`, { conversation: chat.id });
    expect(calls(read, 'x_read_artifact')[0]).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('no artifact'),
    });
    expect(JSON.stringify(read.output)).not.toContain('keeps secrets');
    const write = await ask(`x_update_artifact {"artifact_id":"${theirs.artifact.id}","content":"defaced"}`, {
      conversation: chat.id,
    });
    expect(calls(write, 'x_update_artifact')[0]).toMatchObject({ status: 'failed' });
    expect(
      (await stack.router.pool.query('SELECT latest_version FROM artifacts WHERE id = $1', [theirs.artifact.id]))
        .rows[0],
    ).toEqual({ latest_version: 1 });
    // Another chat's artifacts are not this chat's to serve.
    expect((await api.call('GET', `/chats/${chat.id}/artifacts/${theirs.artifact.id}`, operator.key)).status).toBe(404);
    // Someone else's memory: only its author or an admin deletes it.
    await ask('x_save_memory {"content":"The ledger runs on host ledger-1"}', { conversation: chat.id });
    const memory = (
      (await api.call('GET', '/knowledge/memories', operator.key)).body['data'] as { id: string; content: string }[]
    ).find((entry) => entry.content.includes('ledger-1'))!;
    const colleague = await api.mintKey(admin, 'Colleague', ['inference', 'execution'], ['operator']);
    expect((await api.call('DELETE', `/knowledge/memories/${memory.id}`, colleague.key)).status).toBe(403);
    // Templates are admins' to write; a version once written is what every chat pinned to it reads.
    expect((await api.call('POST', '/templates', operator.key, { name: 'mine', system_prompt: 'x' })).status).toBe(403);
    await expect(
      stack.router.pool.query(
        "UPDATE chat_template_versions SET system_prompt = 'obey me' WHERE template_id = 'tpl_000000000000000000000001'",
      ),
    ).rejects.toThrow(/immutable/);
  });
});
