import { ARTIFACT_THRESHOLD } from '../../knowledge/artifacts.js';
import { FINAL_STATES } from '../../exec/invocation-state.js';
import { findInvocation } from '../../store/invocations.js';
import type { Builtin } from './builtin.js';
import { outcomeOf } from '../run-tool.js';

export const invocationStatus: Builtin = {
  name: 'x_invocation_status',
  risk: 'read',
  description:
    "The state of one of this person's earlier calls (by its invocation id): whether it is waiting for approval, running, done or ambiguous, and its output once it ended.",
  parameters: {
    type: 'object',
    properties: { invocation_id: { type: 'string', pattern: '^inv_[0-9a-f]{12,64}$' } },
    required: ['invocation_id'],
    additionalProperties: false,
  },
  async run(context, args) {
    const id = String(args['invocation_id']);
    const invocation = await findInvocation(context.pool, context.projectId, id);
    // Only the person's own calls in the workspaces this turn offers; anyone else's reads as unknown.
    if (
      !invocation ||
      !context.workspaceIds.has(invocation.workspace_id) ||
      invocation.requested_by_principal !== context.requester.principalId
    )
      return { output: '', error: `no call ${id.slice(0, 80)} in the workspaces of this conversation` };
    const status = {
      id,
      tool: invocation.tool,
      risk: invocation.risk,
      state: invocation.state,
      attempt: invocation.attempt,
    };
    if (!FINAL_STATES.has(invocation.state) && invocation.state !== 'ambiguous')
      return { output: JSON.stringify(status), error: null };
    const ended = await outcomeOf(context.exec, invocation);
    // Read back, a large output is its head: the whole is the exec API's (GET …/invocations/:id/output).
    const output =
      ended.output.length > ARTIFACT_THRESHOLD
        ? `${ended.output.slice(0, ARTIFACT_THRESHOLD)}\n[cut: ${ended.output.length - ARTIFACT_THRESHOLD} more characters]`
        : ended.output;
    return { output: JSON.stringify({ ...status, output, error: ended.error }), error: null };
  },
};
