import { randomBytes } from 'node:crypto';
import { appendContinuation } from '../conversations/turns.js';
import { ApiError } from '../http/errors.js';
import { countUsage, startInference, type InferenceHttpDeps } from '../http/inference-run.js';
import type { ResponseItem } from '../inference/responses-request.js';
import { ResponsesTranslator, type ResponseEvent } from '../inference/responses-stream.js';
import { findApiKey } from '../store/api-keys.js';
import { findApproval, type ApprovalRecord } from '../store/approvals.js';
import { findEndpoint } from '../store/endpoints.js';
import { parkTurn, type ParkedTurn } from '../store/parked-turns.js';
import { findResponse, updateResponse, type StoredResponse } from '../store/responses.js';
import type { WorkspaceCatalogs } from '../exec/workspace-catalog.js';
import type { LiveResponses } from './live-responses.js';
import { concludeLoop, engineChatFor, parkIfWaiting, type LoopBody } from './loop-response.js';
import { MAX_TOOL_TURNS, runLoop, type ApprovalAnswer } from './run-loop.js';
import type { LoopExecDeps } from './run-tool.js';
import { offeredServers } from './servers.js';

export type ResumeDeps = InferenceHttpDeps & {
  readonly exec: LoopExecDeps & { readonly catalogs: WorkspaceCatalogs };
  readonly live: LiveResponses;
};

/**
 * Goes on with a parked turn once people decided every approval it waited for (elsewhere than in
 * the chat): the same response runs again — `response.in_progress`, the decided calls as
 * `mcp_call` items (run, rejected with the reviewer's reason, or expired), the model's next turns
 * — as the person who started it, and ends with its terminal event; it is stored again (status
 * `in_progress` meanwhile) and what it added is kept in its chat. Stopped by `signal` (the router
 * stopping), it is parked again untouched for another router.
 */
export async function resumeTurn(deps: ResumeDeps, parked: ParkedTurn, signal: AbortSignal): Promise<void> {
  const stored = await findResponse(deps.pool, parked.project_id, parked.response_id);
  if (!stored) return;
  const body = parked.request as LoopBody;
  const events = (stored.events ?? []) as ResponseEvent[];
  const prior = stored.response.output as ResponseItem[];
  const log = deps.live.open(parked.project_id, parked.response_id, events);
  try {
    const setup = await prepare(deps, parked, body, prior);
    const translator = ResponsesTranslator.resume(shellOf(stored), newId, setup.toolNames, {
      output: prior,
      lastSequence: events.at(-1)?.sequence_number ?? -1,
      usage: (stored.response['usage'] as Record<string, unknown> | null) ?? null,
    });
    const emit = (more: ResponseEvent[]) => log.push(more);
    emit(translator.resumed());
    await updateResponse(deps.pool, {
      ...keyOf(parked),
      status: 'in_progress',
      response: translator.response('in_progress'),
      events: log.events,
    });
    if ('refused' in setup) return await end(deps, parked, body, stored, translator, log, setup.refused);
    const began = performance.now();
    const result = await runLoop({
      begin: (target) => startInference(deps, target),
      signal,
      inference: deps,
      exec: deps.exec,
      servers: setup.servers,
      translator,
      sse: undefined,
      emit,
      streaming: () => undefined,
      resumed: true,
      chatFor: engineChatFor(body, setup.servers, setup.endpoint),
      target: {
        projectId: parked.project_id,
        model: String(stored.response['model']),
        tier: setup.endpoint.service_tier,
      },
      history: stored.history as ResponseItem[],
      requester: setup.requester,
      mayApprove: false,
      decisions: setup.decisions,
      maxToolTurns: body.max_tool_calls ?? MAX_TOOL_TURNS,
      began,
    });
    if (signal.aborted) {
      // The router stops: the turn waits, untouched, for the next router to resume it.
      await updateResponse(deps.pool, {
        ...keyOf(parked),
        status: String(stored.response['status']),
        response: stored.response,
        events,
      });
      return await parkTurn(deps.pool, parked);
    }
    const concluded = concludeLoop(
      translator,
      parked.response_id,
      result,
      (stored.response['usage'] as Record<string, unknown> | null) ?? null,
    );
    if (result.agentId && result.requestId)
      countUsage(
        deps,
        {
          projectId: parked.project_id,
          endpointId: parked.endpoint_id,
          api: 'responses',
          model: String(stored.response['model']),
          agentId: result.agentId,
          requestId: result.requestId,
          outcome: concluded.outcome,
          firstTokenMs: result.firstTokenMs,
          durationMs: Math.round(performance.now() - began),
        },
        result.usage,
      );
    emit(concluded.ending);
    await keep(deps, parked, body, prior, concluded.final, concluded.outcome, log.events);
  } finally {
    log.end();
  }
}

type Setup =
  | { refused: string; toolNames: ReadonlySet<string> }
  | {
      endpoint: NonNullable<Awaited<ReturnType<typeof findEndpoint>>>;
      servers: Awaited<ReturnType<typeof offeredServers>>;
      toolNames: ReadonlySet<string>;
      requester: { principalId: string; keyId: string; channel: 'api' | 'ui' | 'cli' };
      decisions: ApprovalAnswer[];
    };

/** What the resumed turn runs with, or why it cannot go on (its key revoked, its workspace gone). */
async function prepare(
  deps: ResumeDeps,
  parked: ParkedTurn,
  body: LoopBody,
  prior: readonly ResponseItem[],
): Promise<Setup> {
  const none = new Set<string>();
  const key = await findApiKey(deps.pool, parked.project_id, parked.key_id);
  if (!key || key.revoked_at)
    return { refused: 'the key that started this turn was revoked; it does not go on', toolNames: none };
  const endpoint = await findEndpoint(deps.pool, parked.project_id, parked.endpoint_id);
  if (!endpoint) return { refused: 'the endpoint of this turn was deleted', toolNames: none };
  let servers;
  try {
    servers = await offeredServers(deps.pool, deps.exec.catalogs, parked.project_id, body.tools ?? []);
  } catch (error) {
    if (error instanceof ApiError) return { refused: error.message, toolNames: none };
    throw error;
  }
  const approvals = await Promise.all(parked.approval_ids.map((id) => findApproval(deps.pool, parked.project_id, id)));
  return {
    endpoint,
    servers,
    toolNames: new Set(servers.flatMap((server) => server.tools.map((tool) => tool.name))),
    requester: { principalId: parked.principal_id, keyId: key.id, channel: key.session?.client ?? 'api' },
    decisions: approvals
      .filter((approval): approval is ApprovalRecord => !!approval)
      .map((approval) => ({
        request: requestFor(prior, approval.id),
        decided: approval,
      })),
  };
}

/** The turn cannot go on: it ends failed, saying why. */
async function end(
  deps: ResumeDeps,
  parked: ParkedTurn,
  body: LoopBody,
  stored: StoredResponse,
  translator: ResponsesTranslator,
  log: { push(events: ResponseEvent[]): void; readonly events: ResponseEvent[] },
  why: string,
): Promise<void> {
  const ending = translator.fail('server_error', why);
  log.push(ending);
  const final = { id: parked.response_id, ...translator.response('failed', { code: 'server_error', message: why }) };
  await keep(deps, parked, body, stored.response.output as ResponseItem[], final as never, 'failed', log.events);
}

async function keep(
  deps: ResumeDeps,
  parked: ParkedTurn,
  body: LoopBody,
  prior: readonly ResponseItem[],
  final: Record<string, unknown> & { output: ResponseItem[] },
  outcome: string,
  events: readonly ResponseEvent[],
): Promise<void> {
  await updateResponse(deps.pool, { ...keyOf(parked), status: outcome, response: final, events });
  if (parked.chat_id && parked.branch_id)
    await appendContinuation(deps.pool, {
      chatId: parked.chat_id,
      branchId: parked.branch_id,
      responseId: parked.response_id,
      items: final.output.slice(prior.length),
      usage: (final['usage'] as Record<string, unknown> | null) ?? null,
    });
  await parkIfWaiting(deps.pool, { ...parked, body, output: final.output, outcome });
}

/** The latest request item for an approval (a call asked for again supersedes the first asking). */
function requestFor(output: readonly ResponseItem[], approvalId: string): ResponseItem & { id: string } {
  return [...output]
    .reverse()
    .find((item) => item.type === 'mcp_approval_request' && item['x_approval_id'] === approvalId) as ResponseItem & {
    id: string;
  };
}

function shellOf(stored: StoredResponse): ResponseItem & { id: string; model: string } {
  const {
    output: _output,
    status: _status,
    error: _error,
    usage: _usage,
    incomplete_details: _details,
    object: _object,
    ...shell
  } = stored.response;
  return shell as ResponseItem & { id: string; model: string };
}

const keyOf = (parked: ParkedTurn) => ({ projectId: parked.project_id, id: parked.response_id });
const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
