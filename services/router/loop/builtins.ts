import { FINAL_STATES } from '../exec/invocation-state.js';
import type { Pool } from '../store/pool.js';
import { findInvocation } from '../store/invocations.js';
import { outcomeOf, type LoopExecDeps } from './run-tool.js';

/**
 * The label of the router's own tools (`x_*`), offered as one more `mcp` tool: a request asks
 * for them with `{ "type": "mcp", "server_label": "xerotier" }`. The label is reserved: it never
 * names a workspace.
 */
export const BUILTIN_LABEL = 'xerotier';

/** What a built-in is told of the turn it runs in. */
export interface BuiltinContext {
  readonly pool: Pool;
  readonly exec: LoopExecDeps;
  readonly projectId: string;
  /** The workspaces this turn offers: a built-in reaches nothing else (and only the requester's own calls there). */
  readonly workspaceIds: ReadonlySet<string>;
  readonly requester: { readonly principalId: string };
}

/** A tool the router runs itself (never dispatched to an agent); always read-only here. */
export interface Builtin {
  readonly name: `x_${string}`;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
  run(context: BuiltinContext, args: Record<string, unknown>): Promise<{ output: string; error: string | null }>;
}

const invocationStatus: Builtin = {
  name: 'x_invocation_status',
  description:
    "The state of one of this person's earlier calls (by its invocation id): whether it is waiting for approval, running, done or ambiguous, and its output once it ended.",
  parameters: {
    type: 'object',
    properties: { invocation_id: { type: 'string', pattern: '^inv_[0-9a-f]{12,64}$' } },
    required: ['invocation_id'],
    additionalProperties: false,
  },
  async run(context, args) {
    const id = typeof args['invocation_id'] === 'string' ? args['invocation_id'] : '';
    const invocation = /^inv_[0-9a-f]{12,64}$/.test(id)
      ? await findInvocation(context.pool, context.projectId, id)
      : undefined;
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
    return { output: JSON.stringify({ ...status, output: ended.output, error: ended.error }), error: null };
  },
};

/** Every built-in, by name (issue 17 adds artifacts, memories, subplans and mockups here). */
export function builtinRegistry(): ReadonlyMap<string, Builtin> {
  return new Map([invocationStatus].map((builtin) => [builtin.name, builtin]));
}
