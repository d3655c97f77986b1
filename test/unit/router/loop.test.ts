import { describe, expect, it } from 'vitest';
import { LiveResponses } from '../../../services/router/loop/live-responses.js';
import { awaitedApprovals, parkedRow } from '../../../services/router/loop/loop-response.js';
import { mayStillAct } from '../../../services/router/loop/resume-turn.js';
import { withEndpointTools } from '../../../services/router/loop/servers.js';
import { engineChatFromResponses } from '../../../services/router/inference/responses-request.js';

const event = (sequence: number) => ({ type: 'response.step', sequence_number: sequence });

describe('the loop, decided by pure parts', () => {
  it('a response waits on the approvals its requests ask for and no call has answered yet', () => {
    const output = [
      { type: 'mcp_list_tools', id: 'mcpl_1' },
      { type: 'mcp_approval_request', id: 'mcpr_1', x_approval_id: 'apr_1' },
      { type: 'mcp_approval_request', id: 'mcpr_2', x_approval_id: 'apr_2' },
      { type: 'mcp_call', id: 'mcp_1', approval_request_id: 'mcpr_1' },
    ];
    expect(awaitedApprovals(output)).toEqual(['apr_2']);
    expect(awaitedApprovals(output.slice(0, 1))).toEqual([]);
  });

  it('a live response replays from any sequence number, follows new events, and tells followers it ended', () => {
    const live = new LiveResponses();
    const log = live.open('prj_a', 'resp_1', [event(0), event(1)]);
    const seen: number[] = [];
    let ended = false;
    log.follow(
      0,
      (next) => seen.push(next.sequence_number),
      () => (ended = true),
    );
    log.push([event(2)]);
    expect(live.find('prj_b', 'resp_1')).toBeUndefined();
    expect(live.find('prj_a', 'resp_1')).toBe(log);
    log.end();
    expect(seen).toEqual([1, 2]);
    expect(ended).toBe(true);
    expect(live.size).toBe(0);
    const late: number[] = [];
    log.follow(
      1,
      (next) => late.push(next.sequence_number),
      () => undefined,
    );
    expect(late).toEqual([2]);
  });

  it("an endpoint's workspace is offered only to requests that name no workspace themselves", () => {
    expect(withEndpointTools({ tools: [] }, 'ops').tools).toEqual([{ type: 'mcp', server_label: 'ops' }]);
    const own = { tools: [{ type: 'mcp', server_label: 'db' }] };
    expect(withEndpointTools(own, 'ops')).toBe(own);
    expect(withEndpointTools({}, undefined)).toEqual({});
  });

  it('calls of one model turn reach the engine as one assistant message; later turns as their own', () => {
    const call = (id: string, turn: string) => ({
      type: 'mcp_call',
      id,
      name: 'disk',
      arguments: '{}',
      output: id,
      x_model_turn: turn,
    });
    const chat = engineChatFromResponses(
      {} as never,
      [{ type: 'message', role: 'user', content: 'go' }, call('a', 't1'), call('b', 't1'), call('c', 't2')] as never,
      {},
    ) as unknown as { messages: { role: string; tool_calls?: unknown[] }[] };
    expect(chat.messages.map((message) => [message.role, message.tool_calls?.length ?? 0])).toEqual([
      ['user', 0],
      ['assistant', 2],
      ['tool', 0],
      ['tool', 0],
      ['assistant', 1],
      ['tool', 0],
    ]);
  });

  it('a parked turn acts for its person only while they still may', () => {
    const now = new Date('2026-12-02T00:00:00Z');
    const past = new Date('2026-12-01T00:00:00Z');
    const key = {
      id: 'key_1',
      kind: 'key',
      revoked_at: null,
      expires_at: null,
      grace_until: null,
      principal_status: 'active',
      scopes: ['inference', 'execution'],
      roles: ['operator'],
    } as never as Parameters<typeof mayStillAct>[0] & object;
    expect(mayStillAct(key, now)).toBeUndefined();
    expect(mayStillAct(undefined, now)).toContain('no longer exists');
    expect(mayStillAct({ ...key, revoked_at: past }, now)).toContain('revoked');
    expect(mayStillAct({ ...key, expires_at: past }, now)).toContain('expired');
    // A session lapsing while the turn waited is not a revocation.
    expect(mayStillAct({ ...key, kind: 'session', expires_at: past }, now)).toBeUndefined();
    expect(mayStillAct({ ...key, principal_status: 'disabled' } as never, now)).toContain('disabled');
    expect(mayStillAct({ ...key, roles: ['viewer'] } as never, now)).toContain('may no longer run tools');
    expect(mayStillAct({ ...key, scopes: ['inference'] } as never, now)).toContain('may no longer run tools');
  });

  it('parks what the loop reads: no input, mcp tools pinned to their workspace, nothing else the client sent there', () => {
    const row = parkedRow(parkArgs());
    expect(row).toMatchObject({ approval_ids: ['apr_1'], request: { model: 'm' } });
    expect(row!.request).toEqual({
      model: 'm',
      tools: [{ type: 'mcp', server_label: 'ops', x_workspace_id: 'ws_1', allowed_tools: ['a'] }],
    });
    expect(JSON.stringify(row)).not.toContain('sk-x');
    // A client that took vendor events gets them when the turn goes on, too.
    const opted = parkedRow({ ...parkArgs(), execEvents: true });
    expect(opted!.request['x_exec_events']).toBe(true);
  });
});

function parkArgs(): Parameters<typeof parkedRow>[0] {
  return {
    response_id: 'resp_1',
    project_id: 'prj_1',
    endpoint_id: 'ep_1',
    principal_id: 'usr_1',
    key_id: 'key_1',
    chat_id: null,
    branch_id: null,
    body: {
      input: 'secret question',
      stream: true,
      model: 'm',
      tools: [{ type: 'mcp', server_label: 'ops', headers: { authorization: 'Bearer sk-x' }, allowed_tools: ['a'] }],
    },
    servers: [{ kind: 'workspace', label: 'ops', workspaceId: 'ws_1', tools: [], alwaysApprove: new Set() }],
    output: [{ type: 'mcp_approval_request', id: 'mcpr_1', x_approval_id: 'apr_1' }],
    outcome: 'completed',
  };
}
