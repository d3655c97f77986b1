import type { Channel } from '../http/auth.js';
import { ApiError } from '../http/errors.js';
import { createInvocation } from '../exec/create-invocation.js';
import type { ExecEventHub } from '../exec/exec-events.js';
import { FINAL_STATES, mayRerun } from '../exec/invocation-state.js';
import { advanceInvocation } from '../exec/advance.js';
import { withTransaction } from '../store/db.js';
import type { ArgumentValidator, CatalogTool } from '../exec/tool-catalog.js';
import type { Transactor } from '../store/batcher.js';
import { findExecResult, fullOutput } from '../store/exec-results.js';
import { findInvocation, type InvocationRecord } from '../store/invocations.js';
import type { Pool } from '../store/pool.js';

export interface LoopExecDeps {
  readonly pool: Pool;
  readonly hub: ExecEventHub;
  readonly validator: ArgumentValidator;
  readonly transact?: Transactor;
  /** The exec API's invocation limits (per project, workspace, in total); a 429 is told to the model. */
  readonly admit?: (target: { projectId: string; workspaceId: string }) => Promise<void>;
  /** This router's dispatcher, woken at once for a queued call (the NOTIFY wakes the others). */
  readonly wake?: () => void;
}

/** What the model is told of a call that ended. */
export interface ToolOutcome {
  readonly invocationId: string;
  readonly state: string;
  readonly output: string;
  readonly error: string | null;
  /** From its (last) dispatch to its end: the call's time on its agent, as the router saw it. */
  readonly agentMs: number | null;
}

export type StartedTool =
  | { readonly kind: 'running'; readonly invocation: InvocationRecord }
  /** The call waits for a person: the turn ends here. */
  | { readonly kind: 'approval'; readonly invocationId: string; readonly approvalId: string }
  /** Refused before anything was stored (bad arguments from the model, no agent): the model is told. */
  | { readonly kind: 'refused'; readonly error: string };

/**
 * Starts one of the model's calls of a workspace tool through the exec API's own path — schema
 * check, policy, approval, audit, dispatch, fencing — as a call the chat's person asked for
 * (origin `chat`).
 */
export async function startTool(
  deps: LoopExecDeps,
  call: { projectId: string; workspaceId: string; tool: CatalogTool; arguments: string; alwaysApprove: boolean },
  requester: { principalId: string; keyId: string; channel: Channel },
): Promise<StartedTool> {
  const args = parseArguments(call.arguments);
  if (typeof args === 'string') return { kind: 'refused', error: args };
  try {
    await deps.admit?.({ projectId: call.projectId, workspaceId: call.workspaceId });
    const created = await createInvocation(
      deps.pool,
      deps.validator,
      {
        projectId: call.projectId,
        workspaceId: call.workspaceId,
        tool: call.tool,
        args,
        requester,
        origin: 'chat',
        forceApproval: call.alwaysApprove,
      },
      deps.transact,
    );
    if (created.approval)
      return { kind: 'approval', invocationId: created.invocation.id, approvalId: created.approval.id };
    deps.wake?.();
    return { kind: 'running', invocation: created.invocation };
  } catch (error) {
    if (error instanceof ApiError) return { kind: 'refused', error: `${error.code}: ${error.message}` };
    throw error;
  }
}

/** The model's arguments as a JSON object, or what to tell it when they are not one. */
export function parseArguments(text: string): Record<string, unknown> | string {
  let args: unknown;
  try {
    args = JSON.parse(text || '{}');
  } catch {
    return `invalid_arguments: not JSON: ${text.slice(0, 200)}`;
  }
  if (!args || typeof args !== 'object' || Array.isArray(args))
    return 'invalid_arguments: the arguments must be a JSON object';
  return args as Record<string, unknown>;
}

/** Waits for a started call to end and says what the model is told of it. */
export async function finishTool(
  deps: LoopExecDeps,
  invocation: InvocationRecord,
  signal: AbortSignal,
): Promise<ToolOutcome> {
  return outcomeOf(deps, await untilFinal(deps, invocation, signal));
}

/** Waits for the call's final (or ambiguous) state: events first, the row as the truth. */
export async function untilFinal(
  deps: LoopExecDeps,
  invocation: InvocationRecord,
  signal: AbortSignal,
): Promise<InvocationRecord> {
  const settled = (record: InvocationRecord) => FINAL_STATES.has(record.state) || record.state === 'ambiguous';
  return new Promise<InvocationRecord>((resolve, reject) => {
    const check = async () => {
      const current = await findInvocation(deps.pool, invocation.project_id, invocation.id);
      if (current && settled(current)) done(current);
    };
    // Only an event saying the call settled is worth a read (progress and earlier states are not).
    const unsubscribe = deps.hub.subscribe(invocation.project_id, invocation.id, (event) => {
      if (event.kind === 'state' && (FINAL_STATES.has(event.state) || event.state === 'ambiguous'))
        void check().catch(fail);
    });
    // The last event may have come before the subscription: a slow poll covers any gap.
    const poll = setInterval(() => void check().catch(fail), 1_000);
    const abort = () => fail(new Error('the turn was cancelled'));
    signal.addEventListener('abort', abort, { once: true });
    function done(record: InvocationRecord) {
      cleanup();
      resolve(record);
    }
    function fail(error: unknown) {
      cleanup();
      reject(error instanceof Error ? error : new Error(String(error)));
    }
    function cleanup() {
      unsubscribe();
      clearInterval(poll);
      signal.removeEventListener('abort', abort);
    }
    void check().catch(fail);
  });
}

export async function outcomeOf(deps: LoopExecDeps, invocation: InvocationRecord): Promise<ToolOutcome> {
  const result =
    invocation.attempt > 0
      ? await findExecResult(deps.pool, invocation.id, invocation.attempt, invocation.project_id)
      : undefined;
  // Whole: the loop decides what the model reads of it (a large one becomes an artifact, tool-output.ts).
  const output = result ? (await fullOutput(deps.pool, result)).output : '';
  const error =
    invocation.state === 'succeeded'
      ? null
      : invocation.state === 'ambiguous'
        ? 'The agent was lost while the call ran: it may or may not have happened; an operator must resolve it (it is never run again by itself)'
        : `The call ended ${invocation.state}${result?.error ? `: ${result.error.message}` : ''}`;
  const agentMs =
    invocation.dispatched_at && invocation.finished_at
      ? invocation.finished_at.getTime() - invocation.dispatched_at.getTime()
      : null;
  return { invocationId: invocation.id, state: invocation.state, output, error, agentMs };
}

/**
 * The chat's client went away while a call ran for it: a read or write call is cancelled (it can
 * run again if asked); a dangerous one is left to finish or become ambiguous, never cancelled blind.
 */
export async function cancelIfSafe(
  deps: LoopExecDeps,
  invocation: InvocationRecord,
  requester: { principalId: string; keyId: string; channel: Channel },
): Promise<void> {
  if (!mayRerun(invocation.risk)) return;
  await withTransaction(deps.pool, (client) =>
    advanceInvocation(
      client,
      invocation.id,
      { type: 'cancel' },
      {
        actor: requester.principalId,
        via: { key_id: requester.keyId, channel: requester.channel },
        projectId: invocation.project_id,
        detail: { reason: 'the chat client went away mid-turn' },
      },
    ),
  );
}
