import type { Channel } from '../http/auth.js';
import { consume, type InferenceHttpDeps } from '../http/inference-run.js';
import type { SseStream } from '../http/sse.js';
import type { ChatUsage } from '../inference/chat-accumulator.js';
import type { InferenceTarget, StartedInference } from '../inference/dispatch.js';
import type { EngineChat } from '../inference/chat-request.js';
import type { ResponseItem } from '../inference/responses-request.js';
import type { ResponseEvent, ResponsesTranslator } from '../inference/responses-stream.js';
import type { LoopExecDeps } from './run-tool.js';
import { startCall, type CallOutcome } from './calls.js';
import { decided, waitingItem, type ApprovalAnswer, type Settled } from './inline-approvals.js';
import { newLoopId as newId } from './mcp-call.js';

export type { ApprovalAnswer };
import { listToolsItem, type OfferedServer } from './servers.js';

/** Model turns in one response at most, and how long the loop may run, unless the request says less. */
export const MAX_TOOL_TURNS = 10;
export const MAX_LOOP_MS = 10 * 60_000;

export interface LoopTurn {
  /** Starts one model turn (refusals are HTTP errors before anything streamed). */
  readonly begin: (target: InferenceTarget) => Promise<StartedInference>;
  /** Aborted when the turn's client goes away (a background turn: when the router stops). */
  readonly signal: AbortSignal;
  readonly inference: InferenceHttpDeps;
  readonly exec: LoopExecDeps;
  readonly servers: readonly OfferedServer[];
  readonly translator: ResponsesTranslator;
  readonly sse: SseStream | undefined;
  readonly emit: (events: ResponseEvent[]) => void;
  /** The first model turn runs: from here on the response streams (nothing was said before). */
  readonly streaming: () => void;
  /** The engine request for the items so far (history, input, and this response's output). */
  readonly chatFor: (items: readonly ResponseItem[]) => EngineChat;
  readonly target: Omit<InferenceTarget, 'chat'>;
  readonly history: readonly ResponseItem[];
  readonly requester: { principalId: string; keyId: string; channel: Channel };
  /** Whether the requester holds the approve permission (deciding others' calls needs it). */
  readonly mayApprove: boolean;
  /**
   * Answers to approval requests of an earlier response (the person's, decided here; or made
   * elsewhere, for a turn resumed in the background), settled before the model runs.
   */
  readonly decisions: readonly ApprovalAnswer[];
  readonly maxToolTurns: number;
  readonly began: number;
  /** A stored response going on: its tools were listed when it began. */
  readonly resumed?: boolean;
  /** The client opted in to vendor events (`x_exec.*`, `x_context_fork`, `x_ask_user.question`). */
  readonly execEvents?: boolean;
  /** Where built-ins and large outputs are kept: the chat's workspace (else the first offered) and the chat. */
  readonly home: { readonly workspaceId: string; readonly chatId: string | null };
  /**
   * Forks the turn's chat branch before an irreversible call runs (once per turn: the turn goes
   * on on the new branch); undefined for a turn kept in no chat.
   */
  readonly forkBeforeIrreversible?: (call: { tool: string; invocationId: string }) => Promise<void>;
  /** The engine request of a subplan: its own instructions and tools (loop/subplan.ts). */
  readonly subplanChat?: (
    servers: readonly OfferedServer[],
    instructions: string,
  ) => (items: readonly ResponseItem[]) => EngineChat;
  /** How deep in subplans this loop runs (0: the response's own), and what its items are tagged with. */
  readonly depth?: number;
  readonly tag?: Record<string, unknown>;
  /** The learnings retriever, run before each model turn (knowledge/learnings.ts). */
  readonly recall?: (items: readonly ResponseItem[]) => Promise<ResponseItem | undefined>;
  /** Adds a nested model turn's usage to the response's. */
  readonly accrue?: (usage: ChatUsage | undefined) => void;
}

export type LoopEnd =
  | { readonly kind: 'completed' | 'incomplete'; readonly events: ResponseEvent[]; readonly reason?: string }
  | { readonly kind: 'failed'; readonly code: string; readonly message: string };

export interface LoopResult {
  readonly end: LoopEnd;
  readonly usage: ChatUsage | undefined;
  readonly agentId: string | undefined;
  readonly requestId: string | undefined;
  readonly firstTokenMs: number | null;
  readonly cancelled: boolean;
}

/**
 * The agentic loop of one response (docs/conversations.md): the model answers; its calls of the
 * workspace's tools run through the exec engine (read and write at once, concurrently; a call
 * that needs a person ends the response with an `mcp_approval_request`); their results go back
 * to the model, until it answers without calling a tool, calls one of the client's functions,
 * or the turn budget runs out. The first model turn refused is an HTTP error (nothing streamed
 * yet); later failures end the stream in-band.
 */
export async function runLoop(turn: LoopTurn): Promise<LoopResult> {
  const tools = new Map(
    turn.servers.flatMap((server) => server.tools.map((tool) => [tool.name, { server, tool }] as const)),
  );
  let usage: ChatUsage | undefined;
  let started: StartedInference | undefined;
  let firstTokenMs: number | null = null;
  const result = (end: LoopEnd): LoopResult => ({
    end,
    usage,
    agentId: started?.agentId,
    requestId: started?.requestId,
    firstTokenMs,
    cancelled: turn.signal.aborted,
  });
  let streamed = false;
  // The stream opens once something happened that a refusal could not take back: the first
  // model turn running, or the person's decisions (so a refusal before either is an HTTP error).
  const stream = () => {
    if (streamed) return;
    streamed = true;
    turn.streaming();
    if (!turn.resumed)
      for (const server of turn.servers)
        turn.emit(turn.translator.addItem(listToolsItem(server, newId('mcpl'))).events);
  };
  if (turn.decisions.length > 0) {
    stream();
    const group = newId('mt');
    const settled = await Promise.all(turn.decisions.map((answer) => decided(turn, answer, turn.signal, group)));
    // A call still waiting for someone else is asked for again, and the model runs once none waits.
    const waiting = settled.filter(
      (outcome): outcome is Extract<Settled, { kind: 'waiting' }> => outcome.kind === 'waiting',
    );
    for (const outcome of waiting) turn.emit(turn.translator.addItem(waitingItem(outcome)).events);
    if (waiting.length > 0) return result({ kind: 'completed', events: [] });
  }
  let roundTrip: { endedAt: number; agentMs: number } | undefined;
  for (let modelTurns = 1; ; modelTurns += 1) {
    const items = [...turn.history, ...turn.translator.items()];
    // Learnings retrieved for this model turn go first in its context (never into the response).
    const learned = await turn.recall?.(items);
    const chat = turn.chatFor(learned ? [learned, ...items] : items);
    if (roundTrip) turn.inference.metrics?.toolRoundTrip?.(performance.now() - roundTrip.endedAt - roundTrip.agentMs);
    roundTrip = undefined;
    try {
      started = await turn.begin({ ...turn.target, chat });
    } catch (error) {
      if (!streamed) throw error;
      return result({ kind: 'failed', code: 'server_error', message: (error as Error).message });
    }
    stream();
    const consumed = await consume(started, turn.began, turn.sse, turn.inference.broker, (chunk) =>
      turn.emit(turn.translator.chunk(chunk)),
    );
    firstTokenMs ??= consumed.firstTokenMs;
    usage = addUsage(usage, consumed.usage);
    if (consumed.failure)
      return result({ kind: 'failed', code: consumed.failure.code, message: consumed.failure.message });
    const ended = turn.translator.endModelTurn();
    turn.emit(ended.events);
    if (ended.serverCalls.length === 0) return result({ kind: 'completed', events: [] });
    // The calls of one model turn run at once, and the model reads them back as one turn's calls.
    const group = newId('mt');
    const endedAt = performance.now();
    const running: Promise<CallOutcome>[] = [];
    const accrue = (more: ChatUsage | undefined) => (usage = addUsage(usage, more));
    for (const call of ended.serverCalls)
      running.push((await startCall({ ...turn, accrue }, tools.get(call.name)!, call.arguments, group))());
    const outcomes = await Promise.all(running);
    if (turn.signal.aborted) return result({ kind: 'failed', code: 'cancelled', message: 'the client went away' });
    if (outcomes.includes('approval') || outcomes.includes('ask') || ended.clientCalls > 0)
      return result({ kind: 'completed', events: [] });
    // Measured only when every call ran on an agent (the bench's round trip, docs/benchmarks.md).
    const agentMs = outcomes.map((outcome) => (typeof outcome === 'number' ? outcome : null));
    if (agentMs.every((ms) => ms !== null)) roundTrip = { endedAt, agentMs: Math.max(...agentMs) };
    if (modelTurns >= turn.maxToolTurns) return result({ kind: 'incomplete', events: [], reason: 'max_tool_turns' });
    if (performance.now() - turn.began > MAX_LOOP_MS)
      return result({ kind: 'incomplete', events: [], reason: 'max_duration' });
  }
}

function addUsage(total: ChatUsage | undefined, next: ChatUsage | undefined): ChatUsage | undefined {
  if (!next) return total;
  if (!total) return next;
  return {
    prompt_tokens: total.prompt_tokens + next.prompt_tokens,
    completion_tokens: total.completion_tokens + next.completion_tokens,
    total_tokens: total.total_tokens + next.total_tokens,
    prompt_tokens_details: {
      cached_tokens:
        (total.prompt_tokens_details?.cached_tokens ?? 0) + (next.prompt_tokens_details?.cached_tokens ?? 0),
    },
  };
}
