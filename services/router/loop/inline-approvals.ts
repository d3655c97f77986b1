import { decideApproval } from '../exec/approvals.js';
import { ApiError } from '../http/errors.js';
import type { ResponseItem } from '../inference/responses-request.js';
import { findInvocation } from '../store/invocations.js';
import { openCall } from './mcp-call.js';
import type { LoopTurn } from './run-loop.js';
import { finishTool } from './run-tool.js';

export interface ApprovalAnswer {
  /** The `mcp_approval_request` item answered (from the earlier response). */
  readonly request: ResponseItem & { id: string };
  readonly approve: boolean;
  readonly reason?: string;
}

/**
 * The person's answer to an approval request, decided under the people rules with the channel
 * `chat`; what came of it becomes an `mcp_call` item the model reads: the call's output once
 * approved and run, or why it did not run (rejected, waiting for someone else, refused).
 */
export async function decided(turn: LoopTurn, answer: ApprovalAnswer, signal: AbortSignal): Promise<void> {
  const request = answer.request;
  const approvalId = String(request['x_approval_id']);
  const invocationId = String(request['x_invocation_id']);
  const call = openCall(turn, {
    server_label: request['server_label'],
    name: request['name'],
    arguments: request['arguments'],
    approval_request_id: request.id,
    x_invocation_id: invocationId,
  });
  const close = (output: string, error: string | null) => call.close(output, error);
  let state: string;
  try {
    const approval = await decideApproval(turn.exec.pool, {
      projectId: turn.target.projectId,
      approvalId,
      decider: {
        principalId: turn.requester.principalId,
        mayApprove: turn.mayApprove,
        keyId: turn.requester.keyId,
        channel: 'chat',
      },
      verdict: answer.approve ? 'approve' : 'reject',
      ...(answer.reason ? { note: answer.reason } : {}),
    });
    state = approval.state;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const why =
      error.code === 'self_approval_forbidden'
        ? 'This call needs the approval of a person other than you (irreversible calls always do); it waits for them in the approvals queue.'
        : error.message;
    return close('', `${error.code}: ${why}`);
  }
  if (state === 'rejected')
    return close('', `rejected by the user${answer.reason ? `: ${answer.reason}` : ''}; the call did not run`);
  if (state === 'pending') return close('', 'approved by you; it needs a second person to approve before it runs');
  const invocation = await findInvocation(turn.exec.pool, turn.target.projectId, invocationId);
  const outcome = await finishTool(turn.exec, invocation!, signal).catch((error: unknown) => ({
    output: '',
    error: (error as Error).message,
  }));
  close(outcome.output, outcome.error);
}
