import { decideApproval } from '../exec/approvals.js';
import { ApiError } from '../http/errors.js';
import type { ResponseItem } from '../inference/responses-request.js';
import { findApproval, type ApprovalRecord } from '../store/approvals.js';
import { findInvocation } from '../store/invocations.js';
import { newLoopId, openCall } from './mcp-call.js';
import type { LoopTurn } from './run-loop.js';
import { finishTool } from './run-tool.js';
import { modelOutput } from './tool-output.js';

/** An answer to an `mcp_approval_request` item of an earlier response. */
export type ApprovalAnswer =
  /** The chat's person answers in this turn (`mcp_approval_response`): decided here, channel `chat`. */
  | { readonly request: RequestItem; readonly approve: boolean; readonly reason?: string }
  /** Decided elsewhere (exec API, /ops, CLI, expiry): a turn resumed in the background reads it. */
  | { readonly request: RequestItem; readonly decided: ApprovalRecord };

type RequestItem = ResponseItem & { id: string };

/** What came of an answer: its call ran or was refused (an `mcp_call` item), or it still waits. */
export type Settled =
  { readonly kind: 'settled' } | { readonly kind: 'waiting'; readonly request: RequestItem; readonly why: string };

type Verdict = { state: 'approved' } | { state: 'waiting'; why: string } | { state: 'refused'; why: string };

/**
 * Settles one answer: an approved call runs and its output becomes an `mcp_call` item the model
 * reads; a rejected, expired or refused one becomes a failed `mcp_call` saying why (with the
 * reviewer's reason); a call that still needs someone else (a second person, or another person
 * than the requester) is left waiting, and the caller asks for it again.
 */
export async function decided(
  turn: LoopTurn,
  answer: ApprovalAnswer,
  signal: AbortSignal,
  group: string,
): Promise<Settled> {
  const { request } = answer;
  const verdict = 'decided' in answer ? decidedElsewhere(answer.decided) : await decideHere(turn, answer);
  if (verdict.state === 'waiting') return { kind: 'waiting', request, why: verdict.why };
  const invocationId = String(request['x_invocation_id']);
  const call = openCall(turn, {
    server_label: request['server_label'],
    name: request['name'],
    arguments: request['arguments'],
    approval_request_id: request.id,
    x_invocation_id: invocationId,
    ...(request['x_risk'] ? { x_risk: request['x_risk'] } : {}),
    // The call belongs to the model turn that proposed it: the engine reads them back together.
    x_model_turn: typeof request['x_model_turn'] === 'string' ? request['x_model_turn'] : group,
  });
  if (verdict.state === 'refused') {
    call.close('', verdict.why);
    return { kind: 'settled' };
  }
  const invocation = (await findInvocation(turn.exec.pool, turn.target.projectId, invocationId))!;
  // Approved and about to happen for good: the chat forks first, so it can be rolled back to here.
  if (invocation.risk === 'irreversible') await turn.forkBeforeIrreversible?.({ tool: invocation.tool, invocationId });
  const outcome = await finishTool(turn.exec, invocation, signal).catch((error: unknown) => ({
    output: '',
    error: (error as Error).message,
  }));
  const read = await modelOutput(
    turn,
    { workspaceId: invocation.workspace_id, tool: invocation.tool, invocationId },
    outcome.output,
  );
  call.close(read.output, outcome.error, read.extra);
  return { kind: 'settled' };
}

/** The same call asked for again: it waits for people, and says for whom. */
export function waitingItem(waiting: Extract<Settled, { kind: 'waiting' }>): ResponseItem & { id: string } {
  const { request } = waiting;
  return {
    id: newLoopId('mcpr'),
    type: 'mcp_approval_request',
    server_label: request['server_label'],
    name: request['name'],
    arguments: request['arguments'],
    x_approval_id: request['x_approval_id'],
    x_invocation_id: request['x_invocation_id'],
    ...(request['x_risk'] ? { x_risk: request['x_risk'] } : {}),
    ...(request['x_model_turn'] ? { x_model_turn: request['x_model_turn'] } : {}),
    x_waiting_for: waiting.why,
  };
}

async function decideHere(turn: LoopTurn, answer: { request: RequestItem; approve: boolean; reason?: string }) {
  let approval: ApprovalRecord;
  try {
    approval = await decideApproval(turn.exec.pool, {
      projectId: turn.target.projectId,
      approvalId: String(answer.request['x_approval_id']),
      decider: {
        principalId: turn.requester.principalId,
        mayApprove: turn.mayApprove,
        keyId: turn.requester.keyId,
        channel: 'chat',
      },
      verdict: answer.approve ? 'approve' : 'reject',
      ...(answer.reason ? { note: answer.reason } : {}),
    });
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.code === 'self_approval_forbidden')
      return waiting(
        'another person: this call needs the approval of someone other than you (irreversible calls always do); it waits in the approvals queue',
      );
    // Refused to this person but still open (say, they may not decide it): it waits for someone who may.
    const now = await findApproval(turn.exec.pool, turn.target.projectId, String(answer.request['x_approval_id']));
    if (now?.state === 'pending') return waiting(`someone who may decide it (${error.code}: ${error.message})`);
    return { state: 'refused', why: `${error.code}: ${error.message}` } as const;
  }
  if (approval.state === 'pending')
    return waiting('a second person: approved by you, it needs one more approver before it runs');
  if (approval.state === 'rejected')
    return refused(`rejected by the user${answer.reason ? `: ${answer.reason}` : ''}; the call did not run`);
  return { state: 'approved' } as const;
}

function decidedElsewhere(approval: ApprovalRecord): Verdict {
  if (approval.state === 'approved') return { state: 'approved' };
  if (approval.state === 'rejected')
    return refused(`rejected by a reviewer${approval.note ? `: ${approval.note}` : ''}; the call did not run`);
  if (approval.state === 'expired') return refused('the approval expired before anyone decided; the call did not run');
  if (approval.state === 'pending') return waiting('people to decide it in the approvals queue');
  return refused(`the approval ended ${approval.state}; the call did not run`);
}

const waiting = (why: string) => ({ state: 'waiting', why }) as const;
const refused = (why: string) => ({ state: 'refused', why }) as const;
