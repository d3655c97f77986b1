import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OpenTurn } from '../conversations/turns.js';
import type { ResponseItem } from '../inference/responses-request.js';
import { ResponsesTranslator, type ResponseEvent, type ResponseShell } from '../inference/responses-stream.js';
import { runLoop, MAX_TOOL_TURNS, type ApprovalAnswer } from '../loop/run-loop.js';
import { concludeLoop, engineChatFor, parkedRow, subplanChatFor, type LoopBody } from '../loop/loop-response.js';
import { LiveResponses } from '../loop/live-responses.js';
import { newLoopId } from '../loop/mcp-call.js';
import { hasPermission } from './auth.js';
import type { OfferedServer } from '../loop/servers.js';
import type { EndpointRecord } from '../store/endpoints.js';
import { unparkApprovals } from '../store/parked-turns.js';
import { keepResponse } from './keep-response.js';
import { ApiError } from './errors.js';
import { beginInference, countUsage, inferenceTarget, servedBy, type InferenceHttpDeps } from './inference-run.js';
import type { LoopExecDeps } from '../loop/run-tool.js';
import { openSse } from './sse.js';
import { autoForkHook, homeOf } from '../loop/home.js';
import { learnerOf, recallFor } from '../loop/learning.js';
import { wantsExecEvents } from './response-replay.js';

export interface LoopResponse {
  readonly body: LoopBody;
  readonly shell: ResponseShell;
  readonly endpoint: EndpointRecord;
  readonly model: string;
  readonly projectId: string;
  readonly servers: readonly OfferedServer[];
  readonly history: readonly ResponseItem[];
  /** This turn's own input (the end of history). */
  readonly input: readonly ResponseItem[];
  readonly conversation: OpenTurn | undefined;
  readonly began: number;
}

/**
 * A Responses turn with the workspace's tools (`mcp` tools naming workspaces): the agentic loop
 * runs inside it and the one response — one `response.created`, numbered events, append-only
 * output indices across every model turn — says what the model said and what ran. A turn that
 * ends waiting for people is parked, and goes on by itself once they decide elsewhere.
 */
export async function respondWithLoop(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: InferenceHttpDeps & { readonly exec: LoopExecDeps; readonly live?: LiveResponses },
  turn: LoopResponse,
): Promise<unknown> {
  const { body } = turn;
  const serverToolNames = new Set(turn.servers.flatMap((server) => server.tools.map((tool) => tool.name)));
  const translator = new ResponsesTranslator(turn.shell, newLoopId, serverToolNames);
  // Without a live registry (routes wired alone in tests) the events are still kept with the response.
  const log = (deps.live ?? new LiveResponses()).open(turn.projectId, turn.shell.id);
  let sse: ReturnType<typeof openSse> | undefined;
  const emit = (events: ResponseEvent[]) => {
    log.push(events);
    if (sse) events.forEach((event) => sse!.send(event.type, event));
  };
  let started = false;
  const streaming = () => {
    if (started) return;
    started = true;
    if (body.stream)
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
  const decisions = approvalAnswers(turn.history);
  // This turn answers these approvals: an earlier turn parked on them is not resumed as well.
  await unparkApprovals(
    deps.pool,
    turn.projectId,
    decisions.map((answer) => String(answer.request['x_approval_id'])),
  );
  let branchId = turn.conversation?.branch.id ?? null;
  const execEvents = wantsExecEvents(request);
  const conversation = turn.conversation;
  const home = await homeOf(deps.pool, turn.projectId, turn.servers, conversation?.chat);
  const left = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) left.abort();
  });
  const result = await runLoop({
    begin: (target) => beginInference(request, reply, deps, target),
    signal: left.signal,
    inference: deps,
    exec: deps.exec,
    servers: turn.servers,
    translator,
    get sse() {
      return sse;
    },
    emit,
    streaming,
    chatFor: engineChatFor(body, turn.servers, turn.endpoint),
    subplanChat: subplanChatFor(body, turn.endpoint),
    target: inferenceTarget(request, {
      projectId: turn.projectId,
      model: turn.model,
      endpoint: turn.endpoint,
      promptCacheKey: body.prompt_cache_key,
    }),
    history: turn.history,
    requester: { principalId: principal.principalId, keyId: principal.keyId, channel: principal.channel },
    mayApprove: hasPermission(request, 'exec.approve'),
    decisions,
    maxToolTurns: body.max_tool_calls ?? MAX_TOOL_TURNS,
    began: turn.began,
    execEvents,
    home,
    recall: recallFor(deps.pool, turn.servers, home),
    ...(conversation
      ? {
          forkBeforeIrreversible: autoForkHook(
            { emit, translator, execEvents },
            (call) => conversation.fork(call),
            (fork) => {
              branchId = fork.branch.id;
            },
          ),
        }
      : {}),
  }).catch(async (error: unknown) => {
    log.end();
    await turn.conversation?.abandon();
    throw error;
  });
  if (result.agentId) void reply.headers(servedBy(result.agentId));
  streaming();
  const { ending, final, outcome } = concludeLoop(translator, turn.shell.id, result);
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
  log.push(ending);
  if (outcome === 'completed' || outcome === 'incomplete')
    await learnerOf(deps).learn(
      {
        projectId: turn.projectId,
        home,
        principalId: principal.principalId,
        responseId: turn.shell.id,
        mayCurate: hasPermission(request, 'exec.invoke'),
        endpointId: turn.endpoint.id,
        model: turn.model,
        tier: turn.endpoint.service_tier,
      },
      { input: turn.input, output: final.output },
    );
  await keepResponse(deps.pool, request, {
    projectId: turn.projectId,
    endpointId: turn.endpoint.id,
    store: body.store !== false,
    previousResponseId: body.previous_response_id ?? null,
    outcome,
    history: turn.history,
    final,
    events: log.events,
    conversation: turn.conversation,
    parked: parkedRow({
      response_id: turn.shell.id,
      project_id: turn.projectId,
      endpoint_id: turn.endpoint.id,
      principal_id: principal.principalId,
      key_id: principal.keyId,
      chat_id: turn.conversation?.chat.id ?? null,
      branch_id: branchId,
      body,
      servers: turn.servers,
      output: final.output,
      outcome,
      execEvents,
    }),
  });
  log.end();
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
  // An answer that left its call waiting for someone else was settled too: the wait that followed
  // it (or the call run after) names the same approval, and it must not be decided again.
  const settledLater = (at: number, approvalId: unknown) =>
    approvalId !== undefined && history.slice(at + 1).some((later) => later['x_approval_id'] === approvalId);
  return history
    .map((item, at) => ({ item, at }))
    .filter(({ item }) => item.type === 'mcp_approval_response')
    .filter(({ item }) => !answered.has(item['approval_request_id']))
    .filter(({ item, at }) => !settledLater(at, requests.get(String(item['approval_request_id']))?.['x_approval_id']))
    .map(({ item }) => {
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
