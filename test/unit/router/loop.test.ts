import { describe, expect, it } from 'vitest';
import { LiveResponses } from '../../../services/router/loop/live-responses.js';
import { awaitedApprovals } from '../../../services/router/loop/loop-response.js';
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
});
