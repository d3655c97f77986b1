import { engineChatFromResponses, InputError, type ResponseItem } from '../inference/responses-request.js';
import { responsesUsage, type ResponseEvent, type ResponsesTranslator } from '../inference/responses-stream.js';
import { ApiError } from '../http/errors.js';
import type { EndpointRecord } from '../store/endpoints.js';
import type { ParkedTurn } from '../store/parked-turns.js';
import type { LoopResult } from './run-loop.js';
import { engineTools, isMcpTool, type OfferedServer } from './servers.js';

type EngineBody = Parameters<typeof engineChatFromResponses>[0];

/** The Responses body of a loop turn, as the loop reads it (and a parked turn keeps it, without input). */
export type LoopBody = Record<string, unknown> & {
  tools?: Record<string, unknown>[];
  stream?: boolean | null;
  store?: boolean | null;
  prompt_cache_key?: string;
  previous_response_id?: string | null;
  max_tool_calls?: number | null;
};

/** The engine request for the items so far: the client's own tools and the workspaces' tools. */
export function engineChatFor(body: LoopBody, servers: readonly OfferedServer[], endpoint: EndpointRecord) {
  const clientTools = (body.tools ?? []).filter((tool) => !isMcpTool(tool));
  return (items: readonly ResponseItem[]) => {
    try {
      return engineChatFromResponses(
        { ...body, tools: [...clientTools, ...engineTools(servers)] } as unknown as EngineBody,
        items,
        endpoint.defaults,
      );
    } catch (error) {
      if (error instanceof InputError) throw new ApiError('invalid_parameter', error.message, error.param);
      throw error;
    }
  };
}

/** A subplan's engine request: its instructions, only the workspace and router tools it was given. */
export function subplanChatFor(body: LoopBody, endpoint: EndpointRecord) {
  return (servers: readonly OfferedServer[], instructions: string) =>
    engineChatFor({ ...body, instructions, tools: [], tool_choice: 'auto' }, servers, endpoint);
}

export interface Concluded {
  readonly ending: ResponseEvent[];
  readonly final: Record<string, unknown> & { id: string; output: ResponseItem[] };
  readonly status: 'completed' | 'incomplete' | 'failed';
  /** How the turn is counted and kept: its status, or cancelled when its client went away. */
  readonly outcome: 'completed' | 'incomplete' | 'failed' | 'cancelled';
}

/** The response's last events and its final object, from how the loop ended. */
export function concludeLoop(
  translator: ResponsesTranslator,
  id: string,
  result: LoopResult,
  priorUsage: Record<string, unknown> | null = null,
): Concluded {
  if (result.usage) translator.usage = addResponsesUsage(priorUsage, responsesUsage(result.usage));
  const end = result.end;
  const ending =
    end.kind === 'failed'
      ? translator.fail(
          end.code === 'cancelled' ? 'cancelled' : 'server_error',
          `The engine failed the request: ${end.message}`,
        )
      : end.kind === 'incomplete'
        ? translator.finish('incomplete', { reason: end.reason ?? 'max_tool_turns' })
        : translator.complete();
  const status =
    end.kind === 'failed' ? 'failed' : (ending.at(-1)!.type.replace('response.', '') as 'completed' | 'incomplete');
  const final = {
    id,
    ...translator.response(status, end.kind === 'failed' ? { code: 'server_error', message: end.message } : null),
    ...(end.kind === 'incomplete' ? { incomplete_details: { reason: end.reason } } : {}),
  } as Concluded['final'];
  return { ending, final, status, outcome: result.cancelled ? 'cancelled' : status };
}

/** The approvals a response ends waiting on: its `mcp_approval_request` items no call answered. */
export function awaitedApprovals(output: readonly ResponseItem[]): string[] {
  const answered = new Set(
    output.filter((item) => item.type === 'mcp_call').map((item) => item['approval_request_id']),
  );
  return output
    .filter((item) => item.type === 'mcp_approval_request' && !answered.has(item['id']))
    .map((item) => String(item['x_approval_id']));
}

/**
 * The parked row of a stored turn that ends waiting for people, to be resumed in the background
 * once they decide (docs/conversations.md, "Approved elsewhere"); none when nothing waits or the
 * turn is not stored. What is kept of the request is what the loop reads: no input, and of each
 * `mcp` tool only its label, pinned to the workspace it named then, `allowed_tools` and
 * `require_approval` (anything else a client sent there, such as headers, is not kept).
 */
export function parkedRow(
  turn: Omit<ParkedTurn, 'approval_ids' | 'request'> & {
    body: LoopBody;
    servers: readonly OfferedServer[];
    output: readonly ResponseItem[];
    outcome: string;
    /** The client took vendor events: the turn going on sends them too. */
    execEvents?: boolean;
  },
): ParkedTurn | undefined {
  const approvalIds = awaitedApprovals(turn.output);
  if (approvalIds.length === 0 || turn.body.store === false || turn.outcome !== 'completed') return undefined;
  const { input: _input, stream: _stream, tools, ...rest } = turn.body;
  const pinned = (tools ?? []).map((tool) => {
    if (!isMcpTool(tool)) return tool;
    const server = turn.servers.find((offered) => offered.label === tool['server_label']);
    return {
      type: 'mcp',
      server_label: tool['server_label'],
      ...(server?.kind === 'workspace' ? { x_workspace_id: server.workspaceId } : {}),
      ...(tool['allowed_tools'] !== undefined ? { allowed_tools: tool['allowed_tools'] } : {}),
      ...(tool['require_approval'] !== undefined ? { require_approval: tool['require_approval'] } : {}),
      ...(tool['x_approval_policy'] !== undefined ? { x_approval_policy: tool['x_approval_policy'] } : {}),
    };
  });
  const { body: _body, servers: _servers, output: _output, outcome: _outcome, execEvents, ...where } = turn;
  const request = { ...rest, tools: pinned, ...(execEvents ? { x_exec_events: true } : {}) };
  return { ...where, approval_ids: approvalIds, request };
}

/** Responses-shaped usage of two parts of one response, added up. */
export function addResponsesUsage(
  prior: Record<string, unknown> | null,
  next: Record<string, unknown>,
): Record<string, unknown> {
  if (!prior) return next;
  const sum = (key: string) => Number(prior[key] ?? 0) + Number(next[key] ?? 0);
  const cached = (usage: Record<string, unknown>) =>
    Number((usage['input_tokens_details'] as { cached_tokens?: number } | undefined)?.cached_tokens ?? 0);
  return {
    input_tokens: sum('input_tokens'),
    input_tokens_details: { cached_tokens: cached(prior) + cached(next) },
    output_tokens: sum('output_tokens'),
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: sum('total_tokens'),
  };
}
