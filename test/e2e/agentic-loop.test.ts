import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandTool } from '../helpers/bundles.js';
import { startLoopStack, type LoopStack } from '../helpers/loop-stack.js';
import { spawnXemAgent, waitFor, type Spawned } from '../helpers/processes.js';
import type { RouterHarness } from '../helpers/router-harness.js';

const MODEL = 'scripted/loop';
/** A tool of no arguments; 10 s unless it says. */
const tool = (name: string, risk: string, argv: string[], description: string, timeoutMs = 10_000) =>
  commandTool(name, risk, argv, { description, timeoutMs });

const opskit = (dir: string) => ({
  name: 'opskit',
  version: '1',
  domain: 'ops',
  tools: [
    tool('disk_usage', 'read', ['echo', 'disk 42% full'], 'How full the disks are'),
    tool('uptime', 'read', ['echo', 'up 3 days'], 'How long the host has run'),
    commandTool('restart_service', 'destructive', ['echo', 'restarted', '{{name}}'], {
      description: 'Restart a service',
      timeoutMs: 10_000,
      parameters: {
        type: 'object',
        properties: { name: { type: 'string', pattern: '^[a-z]+$' } },
        required: ['name'],
        additionalProperties: false,
      },
    }),
    tool('slow_report', 'read', ['sleep', '30'], 'A report that takes a while', 60_000),
    tool('wipe_volume', 'irreversible', ['echo', 'wiped'], 'Wipe a volume for good'),
    // Slow the first time only: an agent killed during it, back, runs it again quickly.
    tool(
      'flaky_report',
      'read',
      ['sh', '-c', 'if [ -e "$0" ]; then echo "report ready"; else touch "$0"; sleep 30; fi', join(dir, 'flaky')],
      'A report that hangs the first time',
      60_000,
    ),
    tool('broken_check', 'read', ['sh', '-c', 'echo "disk probe failed" >&2; exit 3'], 'A check that fails'),
    tool('hung_check', 'read', ['sleep', '30'], 'A check that never answers', 1_000),
    tool(
      'slow_restart',
      'destructive',
      ['sh', '-c', 'sleep 30; echo restarted'],
      'A restart that takes a while',
      60_000,
    ),
  ],
});

/**
 * The agentic loop with real processes: a router, a XEM agent running the opskit bundle, a XIM
 * agent on the scripted engine (which calls a tool the user's words name and summarises tool
 * output), and the official openai package as the only client.
 */
describe('the agentic loop: the model calls workspace tools through the router', () => {
  let stack: LoopStack;
  let router: RouterHarness;
  let api: LoopStack['api'];
  let client: OpenAI;
  let operator: { key: string; principalId: string };
  let workspace: string;
  let xem: Spawned;
  let xemOptions: Parameters<typeof spawnXemAgent>[0];
  let runs: Spawned[];
  let clientFor: LoopStack['clientFor'];
  const mcp = () => ({ type: 'mcp' as const, server_label: workspace, require_approval: 'never' as const });

  beforeAll(async () => {
    stack = await startLoopStack({ model: MODEL, bundle: opskit, prefix: 'loop-e2e-' });
    ({ router, api, client, operator, workspace, xem, xemOptions, runs, clientFor } = stack);
  }, 90_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('runs a read tool inside the turn and answers with its output', async () => {
    const response = await client.responses.create({ model: MODEL, input: 'Check disk_usage please', tools: [mcp()] });
    expect(response.status).toBe('completed');
    expect(response.output.map((item) => item.type)).toEqual(['mcp_list_tools', 'mcp_call', 'message']);
    const listed = response.output[0] as OpenAI.Responses.ResponseOutputItem.McpListTools;
    expect(listed.tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['disk_usage', 'restart_service']));
    expect(response.output[1]).toMatchObject({
      type: 'mcp_call',
      name: 'disk_usage',
      server_label: workspace,
      output: 'disk 42% full\n',
      error: null,
    });
    expect(response.output_text).toContain('disk 42% full');
    const calls = await api.call('GET', '/exec/invocations?tool=disk_usage', operator.key);
    expect(
      (calls.body['data'] as { origin: string; requested_by_principal: string; state: string }[])[0],
    ).toMatchObject({
      origin: 'chat',
      requested_by_principal: operator.principalId,
      state: 'succeeded',
    });
  });

  it("offers the router's own x_ tools under the reserved label xerotier, run by the router itself", async () => {
    const calls = await api.call('GET', '/exec/invocations?tool=disk_usage', operator.key);
    const earlier = (calls.body['data'] as { id: string }[])[0]!.id;
    const tools = [mcp(), { type: 'mcp' as const, server_label: 'xerotier', require_approval: 'never' as const }];
    const response = await client.responses.create({
      model: MODEL,
      input: `x_invocation_status {"invocation_id":"${earlier}"} and x_invocation_status {"invocation_id":"inv_000000000000"}`,
      tools,
    });
    const listed = response.output.filter((item) => item.type === 'mcp_list_tools');
    expect(listed.map((item) => item.server_label)).toEqual([workspace, 'xerotier']);
    const [found, unknown] = response.output.filter(
      (item) => item.type === 'mcp_call',
    ) as OpenAI.Responses.ResponseOutputItem.McpCall[];
    expect(found).toMatchObject({ server_label: 'xerotier', name: 'x_invocation_status', error: null });
    expect(JSON.parse(found!.output!)).toMatchObject({
      id: earlier,
      tool: 'disk_usage',
      state: 'succeeded',
      output: 'disk 42% full\n',
    });
    expect(unknown!.error).toContain('no call inv_000000000000');
    // Nothing was dispatched for them: the exec API knows no x_ call.
    const none = await api.call('GET', '/exec/invocations?tool=x_invocation_status', operator.key);
    expect(none.body['data']).toEqual([]);
  });

  it("an inference-only key cannot run a workspace's tools through the model, nor read another person's calls", async () => {
    const admin = router.project.adminKey;
    const chatOnly = await api.mintKey(admin, 'Chat Only', ['inference'], ['operator']);
    const theirs = clientFor(chatOnly.key);
    const before = (await api.call('GET', '/exec/invocations?tool=disk_usage', operator.key)).body['data'] as unknown[];
    await expect(
      theirs.responses.create({ model: MODEL, input: 'disk_usage please', tools: [mcp()] }),
    ).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
    const after = (await api.call('GET', '/exec/invocations?tool=disk_usage', operator.key)).body['data'] as unknown[];
    expect(after).toHaveLength(before.length);
    // Another operator may read back only their own calls with x_invocation_status.
    const colleague = await api.mintKey(admin, 'Colleague', ['inference', 'execution'], ['operator']);
    const colleagues = clientFor(colleague.key);
    const mine = (before[0] as { id: string }).id;
    const peek = await colleagues.responses.create({
      model: MODEL,
      input: `x_invocation_status {"invocation_id":"${mine}"}`,
      tools: [mcp(), { type: 'mcp', server_label: 'xerotier', require_approval: 'never' }],
    });
    const call = peek.output.find((item) => item.type === 'mcp_call') as OpenAI.Responses.ResponseOutputItem.McpCall;
    expect(call.error).toContain(`no call ${mine}`);
    expect(call.output).not.toContain('disk 42% full');
  });

  it('streams the whole loop as one response the SDK accepts: one created, numbered events, mcp_call events', async () => {
    const types: string[] = [];
    const sequence: number[] = [];
    for await (const event of await client.responses.create({
      model: MODEL,
      input: 'What does disk_usage say?',
      tools: [mcp()],
      stream: true,
    })) {
      types.push(event.type);
      sequence.push(event.sequence_number);
    }
    const final = await client.responses
      .stream({ model: MODEL, input: 'What does disk_usage say?', tools: [mcp()] })
      .finalResponse();
    expect(final.output_text).toContain('disk 42% full');
    expect(types.filter((type) => type === 'response.created')).toHaveLength(1);
    expect(types.at(-1)).toBe('response.completed');
    expect(sequence).toEqual(sequence.map((_, index) => index));
    for (const expected of [
      'response.mcp_call_arguments.done',
      'response.mcp_call.in_progress',
      'response.mcp_call.completed',
    ])
      expect(types).toContain(expected);
  });

  it('sends vendor events about a call only to a client that opts in, numbered with the rest', async () => {
    const optedIn = clientFor(operator.key, 'default', { 'x-xerotier-events': 'exec' });
    const events: { type: string; state?: string; data?: string; item_id?: string }[] = [];
    for await (const event of await optedIn.responses.create({
      model: MODEL,
      input: 'uptime please',
      tools: [mcp()],
      stream: true,
    }))
      events.push(event as unknown as (typeof events)[number]);
    const states = events.filter((event) => event.type === 'x_exec.state').map((event) => event.state);
    expect(states).toContain('succeeded');
    const call = events.find((event) => event.type === 'response.mcp_call.in_progress')!;
    expect(
      events.filter((event) => event.type.startsWith('x_exec.')).every((event) => event.item_id === call.item_id),
    ).toBe(true);
    // responses.stream() (the SDK's accumulating helper) refuses event types it does not know:
    // an opted-in client reads the stream with create({stream: true}) or plain SSE (docs/conversations.md).
    expect(events.at(-1)).toMatchObject({ type: 'response.completed' });
    const plain: string[] = [];
    for await (const event of await client.responses.create({
      model: MODEL,
      input: 'uptime please',
      tools: [mcp()],
      stream: true,
    }))
      plain.push(event.type);
    expect(plain.some((type) => type.startsWith('x_'))).toBe(false);
  });

  it('stops at a destructive call with an mcp_approval_request, and the approval is there for people to decide', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: 'Please restart_service {"name":"nginx"}',
      tools: [mcp()],
    });
    expect(response.output.map((item) => item.type)).toEqual(['mcp_list_tools', 'mcp_approval_request']);
    const request = response.output[1] as OpenAI.Responses.ResponseOutputItem.McpApprovalRequest & {
      x_approval_id: string;
    };
    expect(request).toMatchObject({ name: 'restart_service', arguments: '{"name":"nginx"}', server_label: workspace });
    const approval = await api.call('GET', `/exec/approvals/${request.x_approval_id}`, operator.key);
    expect(approval.body).toMatchObject({
      state: 'pending',
      origin: 'chat',
      requested_by_principal: operator.principalId,
    });
  });

  it('approving inline with mcp_approval_response runs the call and the next response completes with its result', async () => {
    const asked = await client.responses.create({
      model: MODEL,
      input: 'restart_service {"name":"nginx"}',
      tools: [mcp()],
    });
    const request = asked.output.find((item) => item.type === 'mcp_approval_request')!;
    const answered = await client.responses.create({
      model: MODEL,
      previous_response_id: asked.id,
      tools: [mcp()],
      input: [{ type: 'mcp_approval_response', approval_request_id: request.id, approve: true }],
    });
    expect(answered.status).toBe('completed');
    const call = answered.output.find(
      (item) => item.type === 'mcp_call',
    ) as OpenAI.Responses.ResponseOutputItem.McpCall;
    expect(call).toMatchObject({
      status: 'completed',
      name: 'restart_service',
      output: 'restarted nginx\n',
      approval_request_id: request.id,
    });
    expect(answered.output_text).toContain('restarted nginx');
    const approvalId = (request as unknown as { x_approval_id: string }).x_approval_id;
    const approval = await api.call('GET', `/exec/approvals/${approvalId}`, operator.key);
    expect(approval.body).toMatchObject({
      state: 'approved',
      decisions: [{ channel: 'chat', verdict: 'approve', principal: { id: operator.principalId } }],
    });
  });

  it('rejecting inline tells the model, and an irreversible call needs a second person, then runs once they approve', async () => {
    const asked = await client.responses.create({
      model: MODEL,
      input: 'restart_service {"name":"redis"}',
      tools: [mcp()],
    });
    const request = asked.output.find((item) => item.type === 'mcp_approval_request')!;
    const rejected = await client.responses.create({
      model: MODEL,
      previous_response_id: asked.id,
      tools: [mcp()],
      input: [{ type: 'mcp_approval_response', approval_request_id: request.id, approve: false, reason: 'not now' }],
    });
    expect(rejected.output.find((item) => item.type === 'mcp_call')).toMatchObject({ status: 'failed' });
    expect(rejected.output_text).toContain('not now');

    const wipe = await client.responses.create({ model: MODEL, input: 'wipe_volume now', tools: [mcp()] });
    const wipeRequest = wipe.output.find((item) => item.type === 'mcp_approval_request')!;
    const selfEvents: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of await client.responses.create({
      model: MODEL,
      previous_response_id: wipe.id,
      tools: [mcp()],
      input: [{ type: 'mcp_approval_response', approval_request_id: wipeRequest.id, approve: true }],
      stream: true,
    }))
      selfEvents.push(event);
    const last = selfEvents.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(last.type).toBe('response.completed');
    const self = last.response;
    const lastSeen = last.sequence_number;
    // The chat's own person cannot approve it: the response asks again, saying who must decide.
    expect(self.output.map((item) => item.type)).toEqual(['mcp_list_tools', 'mcp_approval_request']);
    const waiting = self.output[1] as unknown as { x_waiting_for: string; x_approval_id: string; id: string };
    expect(waiting.x_waiting_for).toContain('someone other than you');
    const approvalId = (wipeRequest as unknown as { x_approval_id: string }).x_approval_id;
    expect(waiting.x_approval_id).toBe(approvalId);
    // A second person approves it through the exec API: the loop goes on by itself.
    const second = await api.mintKey(router.project.adminKey, 'Second Person');
    const approved = await api.call('POST', `/exec/approvals/${approvalId}/approve`, second.key, {
      note: 'checked the volume',
    });
    expect(approved.body['state']).toBe('approved');
    const rest: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of await client.responses.retrieve(self.id, { stream: true, starting_after: lastSeen }))
      rest.push(event);
    expect(rest[0]).toMatchObject({ type: 'response.in_progress', sequence_number: lastSeen + 1 });
    expect(rest.map((event) => event.sequence_number)).toEqual(rest.map((_, index) => lastSeen + 1 + index));
    expect(rest.at(-1)!.type).toBe('response.completed');
    expect(rest.map((event) => event.type)).toContain('response.mcp_call.completed');
    const resumed = await client.responses.retrieve(self.id);
    expect(resumed.status).toBe('completed');
    expect(resumed.output.map((item) => item.type)).toEqual([
      'mcp_list_tools',
      'mcp_approval_request',
      'mcp_call',
      'message',
    ]);
    expect(resumed.output[2]).toMatchObject({
      name: 'wipe_volume',
      output: 'wiped\n',
      approval_request_id: waiting.id,
    });
    expect(resumed.output_text).toContain('wiped');
    const invocationId = (wipeRequest as unknown as { x_invocation_id: string }).x_invocation_id;
    expect((await api.invocation(operator.key, invocationId)).state).toBe('succeeded');
  });

  it('a call rejected elsewhere is told to the model with the reason, in the background', async () => {
    const asked = await client.responses.create({
      model: MODEL,
      input: 'restart_service {"name":"cron"}',
      tools: [mcp()],
    });
    const request = asked.output.find((item) => item.type === 'mcp_approval_request') as unknown as {
      x_approval_id: string;
    };
    const reviewer = await api.mintKey(router.project.adminKey, 'Reviewer');
    const rejected = await api.call('POST', `/exec/approvals/${request.x_approval_id}/reject`, reviewer.key, {
      reason: 'change freeze',
    });
    expect(rejected.body['state']).toBe('rejected');
    const resumed = await waitFor('the turn resumed', 20_000, async () => {
      const response = await client.responses.retrieve(asked.id);
      return response.output.some((item) => item.type === 'message') && response.status === 'completed'
        ? response
        : undefined;
    });
    expect(resumed.output.find((item) => item.type === 'mcp_call')).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('change freeze'),
    });
    expect(resumed.output_text).toContain('change freeze');
  });

  it('a parked turn whose key was revoked does not go on when its call is approved elsewhere', async () => {
    const admin = router.project.adminKey;
    const leaver = await api.mintKey(admin, 'Leaving Operator', ['inference', 'execution'], ['operator']);
    const theirs = clientFor(leaver.key);
    const asked = await theirs.responses.create({
      model: MODEL,
      input: 'restart_service {"name":"ntp"}',
      tools: [mcp()],
    });
    const request = asked.output.find((item) => item.type === 'mcp_approval_request') as unknown as {
      x_approval_id: string;
    };
    expect((await api.call('DELETE', `/management/api-keys/${leaver.id}`, admin)).body['revoked_at']).toBeTruthy();
    await api.call('POST', `/exec/approvals/${request.x_approval_id}/approve`, admin, {});
    const ended = await waitFor('the turn ended', 20_000, async () => {
      const response = await client.responses.retrieve(asked.id);
      return response.status === 'failed' ? response : undefined;
    });
    expect(ended.error?.message).toContain('revoked');
    expect(ended.output.some((item) => item.type === 'message')).toBe(false);
  });

  it('an approval that expires ends the call expired, and the turn goes on to tell the model', async () => {
    const admin = router.project.adminKey;
    const policy = `/management/approval-policies/${workspace}`;
    expect(
      (await api.call('PATCH', policy, admin, { timeout_seconds_destructive: 1, on_timeout_destructive: 'expire' }))
        .status,
    ).toBe(200);
    try {
      const asked = await client.responses.create({
        model: MODEL,
        input: 'restart_service {"name":"sshd"}',
        tools: [mcp()],
      });
      const request = asked.output.find((item) => item.type === 'mcp_approval_request') as unknown as {
        x_invocation_id: string;
      };
      const resumed = await waitFor('the turn told of the expiry', 20_000, async () => {
        const response = await client.responses.retrieve(asked.id);
        return response.status === 'completed' && response.output.some((item) => item.type === 'message')
          ? response
          : undefined;
      });
      expect(resumed.output.find((item) => item.type === 'mcp_call')).toMatchObject({
        status: 'failed',
        error: expect.stringContaining('expired'),
      });
      expect(resumed.output_text).toContain('expired');
      expect((await api.invocation(operator.key, request.x_invocation_id)).state).toBe('expired');
    } finally {
      await api.call('PATCH', policy, admin, { timeout_seconds_destructive: 3_600 });
    }
  });

  it('runs two calls of one model turn at once, chains a second step, and summarises every result', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: 'disk_usage and uptime, then disk_usage again',
      tools: [mcp()],
    });
    expect(response.status).toBe('completed');
    const calls = response.output.filter((item) => item.type === 'mcp_call');
    expect(calls.map((call) => call.name)).toEqual(['disk_usage', 'uptime', 'disk_usage']);
    expect(calls.every((call) => call.status === 'completed')).toBe(true);
    expect(response.output_text).toBe(
      'Summary: disk_usage returned disk 42% full; uptime returned up 3 days; disk_usage returned disk 42% full.',
    );
  });

  it('tells the model when a tool fails or times out, and answers all the same', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: 'broken_check and hung_check',
      tools: [mcp()],
    });
    expect(response.status).toBe('completed');
    const [broken, hung] = response.output.filter(
      (item) => item.type === 'mcp_call',
    ) as OpenAI.Responses.ResponseOutputItem.McpCall[];
    expect(broken).toMatchObject({ name: 'broken_check', status: 'failed' });
    expect(broken!.error).toContain('failed');
    expect(hung).toMatchObject({ name: 'hung_check', status: 'failed' });
    expect(hung!.error).toContain('timed_out');
    expect(response.output_text).toContain('broken_check returned');
    expect(response.output_text).toContain('hung_check returned');
  });

  it('ends incomplete when the turn budget runs out, saying so', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: 'disk_usage, then uptime',
      tools: [mcp()],
      max_tool_calls: 1,
    });
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({ reason: 'max_tool_turns' });
    expect(response.output.filter((item) => item.type === 'mcp_call').map((call) => call.name)).toEqual(['disk_usage']);
  });

  it('a client that goes away mid-turn cancels the read call it was waiting for', async () => {
    const aborted = new AbortController();
    const stream = await client.responses.create(
      { model: MODEL, input: 'Run slow_report', tools: [mcp()], stream: true },
      { signal: aborted.signal },
    );
    let invocationId: string | undefined;
    try {
      for await (const event of stream) {
        if (event.type === 'response.mcp_call.in_progress') {
          invocationId = await waitFor('the call stored', 10_000, async () => {
            const calls = await api.call('GET', '/exec/invocations?tool=slow_report', operator.key);
            return (calls.body['data'] as { id: string; state: string }[]).find((call) => call.state === 'running')?.id;
          });
          aborted.abort();
        }
      }
    } catch (error) {
      if (!aborted.signal.aborted) throw error;
    }
    expect(invocationId).toBeDefined();
    await waitFor('the call cancelled', 15_000, async () =>
      (await api.invocation(operator.key, invocationId!)).state === 'cancelled' ? true : undefined,
    );
  });

  it('tells the model when its arguments are refused, and refuses an unknown workspace before anything runs', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: 'restart_service {"name":"NOT VALID"}',
      tools: [mcp()],
    });
    const call = response.output.find(
      (item) => item.type === 'mcp_call',
    ) as OpenAI.Responses.ResponseOutputItem.McpCall;
    expect(call).toMatchObject({ status: 'failed', name: 'restart_service' });
    expect(call.error).toContain('invalid_body');
    expect(response.output_text).toContain('invalid_body');
    const unknown = client.responses.create({
      model: MODEL,
      input: 'hi',
      tools: [{ type: 'mcp', server_label: 'nowhere', require_approval: 'never' }],
    });
    await expect(unknown).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('deep_think on an agent without router callback credentials is refused with router_callback_missing', async () => {
    const direct = await api.invoke(operator.key, 'deep_think', { question: 'anything' });
    expect(direct).toMatchObject({ status: 409, body: { error: { code: 'router_callback_missing' } } });
    const response = await client.responses.create({
      model: MODEL,
      input: 'deep_think {"question":"anything"}',
      tools: [mcp()],
    });
    const call = response.output.find((item) => item.type === 'mcp_call') as unknown as { name: string; error: string };
    expect(call).toMatchObject({ name: 'deep_think', error: expect.stringContaining('router_callback_missing') });
  });

  it('an endpoint bound to a workspace gives plain requests its tools', async () => {
    const admin = router.project.adminKey;
    const refused = await api.call('POST', '/management/endpoints', admin, {
      slug: 'ops-nowhere',
      models: [MODEL],
      service_tier: 'self_hosted',
      defaults: { workspace: 'nowhere' },
    });
    expect(refused.body.error).toMatchObject({ code: 'invalid_parameter', param: 'defaults.workspace' });
    const created = await api.call('POST', '/management/endpoints', admin, {
      slug: 'ops',
      models: [MODEL],
      service_tier: 'self_hosted',
      defaults: { workspace },
    });
    expect(created.status).toBe(201);
    const ops = clientFor(operator.key, 'ops');
    const response = await ops.responses.create({ model: MODEL, input: 'how is disk_usage?' });
    expect(response.output.map((item) => item.type)).toEqual(['mcp_list_tools', 'mcp_call', 'message']);
    expect(response.output_text).toContain('disk 42% full');
  });

  it('keeps every turn of a chat in order: the question, the approval request, the call resumed in the background', async () => {
    const chat = (await api.call('POST', '/chats', operator.key, { title: 'volumes' })).body;
    const asked = await client.responses.create({
      model: MODEL,
      input: 'wipe_volume please',
      tools: [mcp()],
      conversation: chat['id'] as string,
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    const request = asked.output.find((item) => item.type === 'mcp_approval_request') as unknown as {
      x_approval_id: string;
    };
    const second = await api.mintKey(router.project.adminKey, 'Volume Reviewer');
    await api.call('POST', `/exec/approvals/${request.x_approval_id}/approve`, second.key, {});
    // The call is irreversible: the chat forks before it runs, and the turn goes on on the fork.
    const fork = await waitFor('the chat forked before the call', 20_000, async () => {
      const branches = (await api.call('GET', `/chats/${String(chat['id'])}/branches`, operator.key)).body['data'] as {
        id: string;
        parent_branch_id: string | null;
        is_default: boolean;
        display_name: string;
      }[];
      return branches.find((branch) => branch.parent_branch_id === chat['default_branch_id']);
    });
    expect(fork).toMatchObject({ is_default: true, display_name: expect.stringContaining('before wipe_volume') });
    const path = `/chats/${String(chat['id'])}/branches/${fork.id}/messages`;
    const messages = await waitFor('the continuation kept in the chat', 20_000, async () => {
      const data = (await api.call('GET', path, operator.key)).body['data'] as {
        role: string;
        response_id: string;
        items: { type: string; output?: string }[];
      }[];
      return data.length === 3 ? data : undefined;
    });
    expect(messages.map((message) => [message.role, message.items.map((item) => item.type)])).toEqual([
      ['user', ['message']],
      ['assistant', ['mcp_list_tools', 'mcp_list_tools', 'mcp_approval_request']],
      ['assistant', ['mcp_call', 'message']],
    ]);
    // The parent stays as it was before the call: rolling back is going on there.
    const before = (
      await api.call(
        'GET',
        `/chats/${String(chat['id'])}/branches/${String(chat['default_branch_id'])}/messages`,
        operator.key,
      )
    ).body['data'] as unknown[];
    expect(before).toHaveLength(2);
    expect(messages.every((message) => message.response_id === asked.id)).toBe(true);
    expect(messages[2]!.items[0]!.output).toBe('wiped\n');
    const approval = await api.call('GET', `/exec/approvals/${request.x_approval_id}`, operator.key);
    expect(approval.body).toMatchObject({ state: 'approved', decisions: [{ verdict: 'approve', channel: 'api' }] });
  });

  it('an agent killed during a read call: the call runs again once the agent is back, and the turn answers', async () => {
    const pending = client.responses.create({ model: MODEL, input: 'flaky_report now', tools: [mcp()] });
    const invocationId = await waitFor('the call running', 20_000, async () => {
      const calls = await api.call('GET', '/exec/invocations?tool=flaky_report', operator.key);
      return (calls.body['data'] as { id: string; state: string }[]).find((call) => call.state === 'running')?.id;
    });
    process.kill(-xem.child.pid!, 'SIGKILL');
    await xem.exited;
    xem = spawnXemAgent(xemOptions);
    runs.push(xem);
    const response = await pending;
    expect(response.output.find((item) => item.type === 'mcp_call')).toMatchObject({
      name: 'flaky_report',
      status: 'completed',
      output: 'report ready\n',
    });
    expect(response.output_text).toContain('report ready');
    expect((await api.invocation(operator.key, invocationId)).attempt).toBeGreaterThan(1);
  });

  it('an agent killed during a destructive call: the call becomes ambiguous and the model is told so', async () => {
    await waitFor('the agent back online', 20_000, async () =>
      (await api.call('GET', '/exec/tools/slow_restart', operator.key)).body['online_agents'] === 1 ? true : undefined,
    );
    const asked = await client.responses.create({ model: MODEL, input: 'slow_restart it', tools: [mcp()] });
    const request = asked.output.find((item) => item.type === 'mcp_approval_request')!;
    const invocationId = (request as unknown as { x_invocation_id: string }).x_invocation_id;
    const pending = client.responses.create({
      model: MODEL,
      previous_response_id: asked.id,
      tools: [mcp()],
      input: [{ type: 'mcp_approval_response', approval_request_id: request.id, approve: true }],
    });
    await waitFor('the call running', 20_000, async () =>
      (await api.invocation(operator.key, invocationId)).state === 'running' ? true : undefined,
    );
    process.kill(-xem.child.pid!, 'SIGKILL');
    await xem.exited;
    const answered = await pending;
    const call = answered.output.find(
      (item) => item.type === 'mcp_call',
    ) as OpenAI.Responses.ResponseOutputItem.McpCall;
    expect(call).toMatchObject({ status: 'failed', name: 'slow_restart' });
    expect(call.error).toContain('may or may not have happened');
    expect(answered.output_text).toContain('may or may not have happened');
    expect((await api.invocation(operator.key, invocationId)).state).toBe('ambiguous');
  });
});
