import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OpenTurn } from '../conversations/turns.js';
import { InputError, engineChatFromResponses, type ResponseItem } from '../inference/responses-request.js';
import { randomBytes } from 'node:crypto';
import {
  ResponsesTranslator,
  responsesUsage,
  type ResponseEvent,
  type ResponseShell,
} from '../inference/responses-stream.js';
import { runLoop, MAX_TOOL_TURNS, type ApprovalAnswer } from '../loop/run-loop.js';
import { hasPermission } from './auth.js';
import { engineTools, isMcpTool, type OfferedServer } from '../loop/servers.js';
import type { EndpointRecord } from '../store/endpoints.js';
import { keepResponse } from './keep-response.js';
import { ApiError } from './errors.js';
import { countUsage, servedBy, type InferenceHttpDeps } from './inference-run.js';
import type { LoopExecDeps } from '../loop/run-tool.js';
import { traced } from './request-tracing.js';
import { openSse } from './sse.js';

type EngineBody = Parameters<typeof engineChatFromResponses>[0];

export interface LoopResponse {
  readonly body: Record<string, unknown> & {
    tools?: Record<string, unknown>[];
    stream?: boolean | null;
    store?: boolean | null;
    prompt_cache_key?: string;
    previous_response_id?: string | null;
    max_tool_calls?: number | null;
  };
  readonly shell: ResponseShell;
  readonly endpoint: EndpointRecord;
  readonly model: string;
  readonly projectId: string;
  readonly servers: readonly OfferedServer[];
  readonly history: readonly ResponseItem[];
  readonly conversation: OpenTurn | undefined;
  readonly began: number;
}

/**
 * A Responses turn with the workspace's tools (`mcp` tools naming workspaces): the agentic loop
 * runs inside it and the one response — one `response.created`, numbered events, append-only
 * output indices across every model turn — says what the model said and what ran.
 */
export async function respondWithLoop(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: InferenceHttpDeps & { readonly exec: LoopExecDeps },
  turn: LoopResponse,
): Promise<unknown> {
  const { body } = turn;
  const serverToolNames = new Set(turn.servers.flatMap((server) => server.tools.map((tool) => tool.name)));
  const translator = new ResponsesTranslator(turn.shell, newItemId, serverToolNames);
  const clientTools = (body.tools ?? []).filter((tool) => !isMcpTool(tool));
  const chatFor = (items: readonly ResponseItem[]) => {
    try {
      return engineChatFromResponses(
        { ...body, tools: [...clientTools, ...engineTools(turn.servers)] } as unknown as EngineBody,
        items,
        turn.endpoint.defaults,
      );
    } catch (error) {
      if (error instanceof InputError) throw new ApiError('invalid_parameter', error.message, error.param);
      throw error;
    }
  };
  let sse: ReturnType<typeof openSse> | undefined;
  const emit = (events: ResponseEvent[]) => sse && events.forEach((event) => sse!.send(event.type, event));
  const streaming = () => {
    if (!body.stream || sse) return;
    sse = openSse(
      request,
      reply,
      () => undefined,
      {},
      () => undefined,
    );
    emit(translator.start());
  };
  const principal = request.principal!;
  const result = await runLoop({
    request,
    reply,
    inference: deps,
    exec: deps.exec,
    servers: turn.servers,
    translator,
    get sse() {
      return sse;
    },
    emit,
    streaming,
    chatFor,
    target: {
      projectId: turn.projectId,
      model: turn.model,
      tier: turn.endpoint.service_tier,
      ...(body.prompt_cache_key ? { promptCacheKey: body.prompt_cache_key } : {}),
      ...traced(request),
    },
    history: turn.history,
    requester: { principalId: principal.principalId, keyId: principal.keyId, channel: principal.channel },
    mayApprove: hasPermission(request, 'exec.approve'),
    decisions: approvalAnswers(turn.history),
    maxToolTurns: body.max_tool_calls ?? MAX_TOOL_TURNS,
    began: turn.began,
  }).catch(async (error: unknown) => {
    await turn.conversation?.abandon();
    throw error;
  });
  if (result.agentId) void reply.headers(servedBy(result.agentId));
  streaming();
  if (result.usage) translator.usage = responsesUsage(result.usage);
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
  const final: Record<string, unknown> & { id: string } = {
    id: turn.shell.id,
    ...translator.response(status, end.kind === 'failed' ? { code: 'server_error', message: end.message } : null),
    ...(end.kind === 'incomplete' ? { incomplete_details: { reason: end.reason } } : {}),
  };
  const outcome = result.cancelled ? 'cancelled' : status;
  if (result.agentId && result.requestId)
    countUsage(
      deps,
      {
        projectId: turn.projectId,
        endpointId: turn.endpoint.id,
        api: 'responses',
        model: turn.model,
        agentId: result.agentId,
        requestId: result.requestId,
        outcome,
        firstTokenMs: result.firstTokenMs,
        durationMs: Math.round(performance.now() - turn.began),
      },
      result.usage,
    );
  await keepResponse(deps.pool, request, {
    projectId: turn.projectId,
    endpointId: turn.endpoint.id,
    store: body.store !== false,
    previousResponseId: body.previous_response_id ?? null,
    outcome,
    history: turn.history,
    final,
    conversation: turn.conversation,
  });
  if (sse) {
    ending.forEach((event) => sse!.send(event.type, event));
    sse.end();
    return reply;
  }
  return final;
}

/**
 * The `mcp_approval_response` items of this turn's input, each with the `mcp_approval_request`
 * it answers from the history (the earlier response); an answer to nothing is refused (400).
 */
function approvalAnswers(history: readonly ResponseItem[]): ApprovalAnswer[] {
  const requests = new Map(
    history
      .filter((item) => item.type === 'mcp_approval_request')
      .map((item) => [String(item['id']), item as ResponseItem & { id: string }]),
  );
  const answered = new Set(
    history.filter((item) => item.type === 'mcp_call').map((item) => item['approval_request_id']),
  );
  return history
    .filter((item) => item.type === 'mcp_approval_response')
    .filter((item) => !answered.has(item['approval_request_id']))
    .map((item) => {
      const request = requests.get(String(item['approval_request_id']));
      if (!request)
        throw new ApiError(
          'invalid_parameter',
          `No approval request ${String(item['approval_request_id']).slice(0, 64)} in this conversation`,
          'input',
        );
      return {
        request,
        approve: item['approve'] === true,
        ...(typeof item['reason'] === 'string' ? { reason: item['reason'] } : {}),
      };
    });
}

function newItemId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}
