import { appendContinuation } from '../conversations/turns.js';
import { forkBeforeIrreversible } from '../conversations/auto-fork.js';
import { findChat } from '../store/chats.js';
import { autoForkHook, homeOf } from './home.js';
import { learnerOf, recallFor } from './learning.js';
import { apiKeyState } from '../auth/api-key-state.js';
import { ApiError } from '../http/errors.js';
import { countUsage, startInference, type InferenceHttpDeps } from '../http/inference-run.js';
import type { ResponseItem } from '../inference/responses-request.js';
import { ResponsesTranslator, responsesUsage, type ResponseEvent } from '../inference/responses-stream.js';
import { effectivePermissions } from '../people/roles.js';
import { findApiKeyInUse, type ApiKeyWithProject } from '../store/api-keys.js';
import { findApproval, type ApprovalRecord } from '../store/approvals.js';
import { withTransaction } from '../store/db.js';
import { findEndpoint } from '../store/endpoints.js';
import { parkTurn, type ParkedTurn } from '../store/parked-turns.js';
import { findResponse, updateResponse, type StoredResponse } from '../store/responses.js';
import type { WorkspaceCatalogs } from '../exec/workspace-catalog.js';
import type { LiveResponses, ResponseLog } from './live-responses.js';
import {
  addResponsesUsage,
  concludeLoop,
  engineChatFor,
  parkedRow,
  subplanChatFor,
  type LoopBody,
} from './loop-response.js';
import { newLoopId } from './mcp-call.js';
import { MAX_LOOP_MS, MAX_TOOL_TURNS, runLoop, type ApprovalAnswer, type LoopResult } from './run-loop.js';
import type { LoopExecDeps } from './run-tool.js';
import { offeredServers } from './servers.js';

export type ResumeDeps = InferenceHttpDeps & {
  readonly exec: LoopExecDeps & { readonly catalogs: WorkspaceCatalogs };
  readonly live: LiveResponses;
};

/** A resumed response and what it goes on from. */
interface Resumed {
  readonly parked: ParkedTurn;
  readonly stored: StoredResponse;
  readonly body: LoopBody;
  readonly prior: readonly ResponseItem[];
  readonly translator: ResponsesTranslator;
  readonly log: ResponseLog;
  /** The branch the turn goes on (a fork before an irreversible call moves it). */
  branchId: string | null;
}

/**
 * Goes on with a parked turn once people decided every approval it waited for (elsewhere than in
 * the chat): the same response runs again — `response.in_progress`, the decided calls as
 * `mcp_call` items (run, rejected with the reviewer's reason, or expired), the model's next turns
 * — as the person who started it, if they still may, and ends with its terminal event; it is
 * stored again and what it added is kept in its chat. A turn claimed as the router stops is
 * parked again untouched; one stopped mid-way (the router stopping, or its 10 minutes up) ends
 * failed with what it did so far, never run twice. Any other failure also ends it failed.
 */
export async function resumeTurn(deps: ResumeDeps, parked: ParkedTurn, stopping: AbortSignal): Promise<void> {
  const stored = await findResponse(deps.pool, parked.project_id, parked.response_id);
  if (!stored) return;
  const events = (stored.events ?? []) as ResponseEvent[];
  if (stopping.aborted) return repark(deps, parked, stored);
  const log = deps.live.open(parked.project_id, parked.response_id, events);
  const prior = stored.response.output as ResponseItem[];
  let resumed: Resumed | undefined;
  const begin = (toolNames: readonly string[]): Resumed =>
    (resumed = {
      parked,
      stored,
      body: parked.request as LoopBody,
      prior,
      log,
      branchId: parked.branch_id,
      translator: ResponsesTranslator.resume(shellOf(stored), newLoopId, new Set(toolNames), {
        output: prior,
        lastSequence: events.at(-1)?.sequence_number ?? -1,
        usage: priorUsage(stored),
      }),
    });
  try {
    const setup = await prepare(deps, parked, parked.request as LoopBody, prior);
    const going = begin(
      'refused' in setup ? [] : setup.servers.flatMap((server) => server.tools.map((tool) => tool.name)),
    );
    log.push(going.translator.resumed());
    await updateResponse(deps.pool, {
      ...keyOf(parked),
      status: 'in_progress',
      response: going.translator.response('in_progress'),
      events: log.events,
    });
    if ('refused' in setup) return await end(deps, going, setup.refused);
    await goOn(deps, going, setup, stopping);
  } catch (error) {
    await end(deps, resumed ?? begin([]), `the turn could not go on: ${(error as Error).message}`).catch(
      () => undefined,
    );
    throw error;
  } finally {
    log.end();
  }
}

async function goOn(
  deps: ResumeDeps,
  resumed: Resumed,
  setup: Exclude<Setup, { refused: string }>,
  stopping: AbortSignal,
): Promise<void> {
  const { parked, stored, body, translator, log } = resumed;
  const signal = AbortSignal.any([stopping, AbortSignal.timeout(MAX_LOOP_MS)]);
  const began = performance.now();
  const model = String(stored.response['model']);
  const chat = parked.chat_id ? await findChat(deps.pool, parked.project_id, parked.chat_id) : undefined;
  const execEvents = body['x_exec_events'] === true;
  let forked = false;
  const fork = async (call: { tool: string; invocationId: string }) => {
    if (forked || !chat || !resumed.branchId) return undefined;
    forked = true;
    const where = { chatId: chat.id, branchId: resumed.branchId, responseId: parked.response_id };
    return forkBeforeIrreversible(deps.pool, where, call);
  };
  const home = await homeOf(deps.pool, parked.project_id, setup.servers, chat);
  const result = await runLoop({
    begin: (target) => startInference(deps, target),
    signal,
    inference: deps,
    exec: deps.exec,
    servers: setup.servers,
    translator,
    sse: undefined,
    emit: (more) => log.push(more),
    streaming: () => undefined,
    resumed: true,
    chatFor: engineChatFor(body, setup.servers, setup.endpoint),
    subplanChat: subplanChatFor(body, setup.endpoint),
    target: { projectId: parked.project_id, model, tier: setup.endpoint.service_tier },
    history: stored.history as ResponseItem[],
    requester: setup.requester,
    mayApprove: false,
    decisions: setup.decisions,
    maxToolTurns: body.max_tool_calls ?? MAX_TOOL_TURNS,
    began,
    execEvents,
    home,
    recall: recallFor(deps.pool, setup.servers, home),
    ...(chat
      ? {
          forkBeforeIrreversible: autoForkHook(
            { emit: (more) => log.push(more), translator, execEvents },
            fork,
            (made) => {
              resumed.branchId = made.branch.id;
            },
          ),
        }
      : {}),
  });
  count(deps, parked, model, result, began);
  if (signal.aborted)
    return end(
      deps,
      resumed,
      stopping.aborted
        ? 'the router stopped while this turn went on; what ran is above, continue with previous_response_id'
        : 'the turn ran out of time (10 minutes) going on in the background',
      result,
    );
  const concluded = concludeLoop(translator, parked.response_id, result, priorUsage(stored));
  log.push(concluded.ending);
  await learnerOf(deps).learn(
    {
      projectId: parked.project_id,
      home,
      principalId: parked.principal_id,
      responseId: parked.response_id,
      mayCurate: false,
      endpointId: setup.endpoint.id,
      model,
      tier: setup.endpoint.service_tier,
    },
    { input: [], output: concluded.final.output.slice(resumed.prior.length) },
  );
  await keep(deps, resumed, concluded.final, concluded.outcome, result);
}

type Setup =
  | { refused: string }
  | {
      endpoint: NonNullable<Awaited<ReturnType<typeof findEndpoint>>>;
      servers: Awaited<ReturnType<typeof offeredServers>>;
      requester: { principalId: string; keyId: string; channel: 'api' | 'ui' | 'cli' };
      decisions: ApprovalAnswer[];
    };

/** What the resumed turn runs with, or why it cannot go on (its person may no longer act, its endpoint or workspace is gone). */
async function prepare(
  deps: ResumeDeps,
  parked: ParkedTurn,
  body: LoopBody,
  prior: readonly ResponseItem[],
): Promise<Setup> {
  const key = await findApiKeyInUse(deps.pool, parked.project_id, parked.key_id);
  const refusal = mayStillAct(key, new Date());
  if (refusal) return { refused: refusal };
  const endpoint = await findEndpoint(deps.pool, parked.project_id, parked.endpoint_id);
  if (!endpoint) return { refused: 'the endpoint of this turn was deleted' };
  let servers;
  try {
    servers = await offeredServers(deps.pool, deps.exec.catalogs, parked.project_id, body.tools ?? []);
  } catch (error) {
    if (error instanceof ApiError) return { refused: error.message };
    throw error;
  }
  const approvals = await Promise.all(parked.approval_ids.map((id) => findApproval(deps.pool, parked.project_id, id)));
  return {
    endpoint,
    servers,
    requester: { principalId: parked.principal_id, keyId: key!.id, channel: key!.session?.client ?? 'api' },
    decisions: approvals
      .filter((approval): approval is ApprovalRecord => !!approval)
      .map((approval) => ({ request: requestFor(prior, approval.id), decided: approval })),
  };
}

/**
 * Whether the person who started a turn may still have it act for them: their key (or session)
 * not revoked or rotated out — a plain key not expired either; a session lapsing while the turn
 * waited is not a revocation — they are active, and they may still run tools in the project.
 */
export function mayStillAct(key: ApiKeyWithProject | undefined, now: Date): string | undefined {
  if (!key) return 'the key that started this turn no longer exists; it does not go on';
  const state = apiKeyState(key, now);
  if (state === 'revoked' || state === 'rotated_out' || (state === 'expired' && key.kind !== 'session'))
    return `the key that started this turn was ${state.replace('_', ' ')}; it does not go on`;
  if (key.principal_status !== 'active') return 'the person who started this turn is disabled; it does not go on';
  const permissions = effectivePermissions(key.scopes, key.roles);
  if (!permissions.has('inference.use') || !permissions.has('exec.invoke'))
    return 'the person who started this turn may no longer run tools in this project; it does not go on';
  return undefined;
}

/** The turn cannot go on, or stopped mid-way: it ends failed, saying why, with what it did so far. */
async function end(deps: ResumeDeps, resumed: Resumed, why: string, result?: LoopResult): Promise<void> {
  const { translator, parked, log } = resumed;
  if (result?.usage) translator.usage = addPrior(resumed.stored, result);
  log.push(translator.fail('server_error', why));
  const final = { id: parked.response_id, ...translator.response('failed', { code: 'server_error', message: why }) };
  await keep(deps, resumed, final as never, 'failed', result);
}

async function keep(
  deps: ResumeDeps,
  resumed: Resumed,
  final: Record<string, unknown> & { output: ResponseItem[] },
  outcome: string,
  result: LoopResult | undefined,
): Promise<void> {
  const { parked, body, log, prior } = resumed;
  const again = parkedRow({ ...parked, branch_id: resumed.branchId, body, servers: [], output: final.output, outcome });
  await withTransaction(deps.pool, async (client) => {
    await updateResponse(client, { ...keyOf(parked), status: outcome, response: final, events: log.events });
    // Waiting again (the model proposed another dangerous call): the stored request is already pinned.
    if (again) await parkTurn(client, { ...again, request: parked.request });
  });
  if (parked.chat_id && resumed.branchId)
    await appendContinuation(deps.pool, {
      chatId: parked.chat_id,
      branchId: resumed.branchId,
      responseId: parked.response_id,
      items: final.output.slice(prior.length),
      // Only what going on used: the turn's first part is counted on its own message.
      usage: result?.usage ? responsesUsage(result.usage) : null,
    });
}

/** Claimed as the router stops, before anything ran: parked again as it was, for another router. */
async function repark(deps: ResumeDeps, parked: ParkedTurn, stored: StoredResponse): Promise<void> {
  await withTransaction(deps.pool, async (client) => {
    await updateResponse(client, {
      ...keyOf(parked),
      status: String(stored.response['status']),
      response: stored.response,
      events: stored.events ?? [],
    });
    await parkTurn(client, parked);
  });
}

function count(deps: ResumeDeps, parked: ParkedTurn, model: string, result: LoopResult, began: number): void {
  if (!result.agentId || !result.requestId) return;
  countUsage(
    deps,
    {
      projectId: parked.project_id,
      endpointId: parked.endpoint_id,
      api: 'responses',
      model,
      agentId: result.agentId,
      requestId: result.requestId,
      outcome: result.cancelled ? 'cancelled' : result.end.kind === 'failed' ? 'failed' : 'completed',
      firstTokenMs: result.firstTokenMs,
      durationMs: Math.round(performance.now() - began),
    },
    result.usage,
  );
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

const priorUsage = (stored: StoredResponse) => (stored.response['usage'] as Record<string, unknown> | null) ?? null;
const addPrior = (stored: StoredResponse, result: LoopResult) =>
  addResponsesUsage(priorUsage(stored), responsesUsage(result.usage!));
const keyOf = (parked: ParkedTurn) => ({ projectId: parked.project_id, id: parked.response_id });
