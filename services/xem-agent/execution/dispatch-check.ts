import type { FrameBody } from '../../protocol/frame-bodies.js';
import { requestHash, riskRank } from '../../protocol/request-hash.js';
import type { LoadedTool } from '../bundles/loader.js';

export type Dispatch = FrameBody<'exec.dispatch'>;

/** Why a dispatch is refused before anything runs; codes match the router's error table. */
export interface Refusal {
  readonly code:
    | 'dispatch_expired'
    | 'exec_tool_not_found'
    | 'workspace_not_served'
    | 'invalid_args'
    | 'capacity_exhausted'
    | 'agent_shutting_down'
    | 'router_callback_missing'
    | 'risk_mismatch'
    | 'request_hash_mismatch';
  readonly message: string;
}

export interface DispatchContext {
  readonly tools: ReadonlyMap<string, LoadedTool>;
  readonly workspaces: readonly string[];
  readonly running: number;
  readonly maxConcurrent: number;
  readonly accepting: boolean;
  readonly now: number;
}

/**
 * Decides whether a dispatch may run: pure, so every refusal is tested without a process.
 * Excess work is refused at once (capacity_exhausted), never queued silently.
 */
export function checkDispatch(
  dispatch: Dispatch,
  context: DispatchContext,
): { tool: LoadedTool } | { refusal: Refusal } {
  if (!context.accepting)
    return { refusal: { code: 'agent_shutting_down', message: 'the agent is shutting down and takes no new work' } };
  if (dispatch.not_after < context.now)
    return { refusal: { code: 'dispatch_expired', message: 'the dispatch arrived after its not_after deadline' } };
  const tool = context.tools.get(dispatch.tool);
  if (!tool) return { refusal: { code: 'exec_tool_not_found', message: `this agent has no tool ${dispatch.tool}` } };
  // The router classified the call; this agent still refuses to run it as anything milder than
  // it declares the tool itself, whatever a peer agent or a database row claimed.
  if (riskRank(dispatch.risk) < riskRank(tool.spec.risk)) {
    return {
      refusal: {
        code: 'risk_mismatch',
        message: `dispatched as ${dispatch.risk}, but this agent declares ${dispatch.tool} ${tool.spec.risk}`,
      },
    };
  }
  if (requestHash(dispatch) !== dispatch.request_hash) {
    return {
      refusal: {
        code: 'request_hash_mismatch',
        message: 'the tool, arguments and workspace received do not match the request hash (approved or created)',
      },
    };
  }
  if (tool.unavailable === 'router_callback_missing') {
    return {
      refusal: {
        code: 'router_callback_missing',
        message: 'this agent has no router callback: set XEM_ROUTER_AUTH_TOKEN and XEM_PROJECT_EXTERNAL_ID',
      },
    };
  }
  if (!context.workspaces.includes(dispatch.workspace_id)) {
    return {
      refusal: {
        code: 'workspace_not_served',
        message: `this agent holds no credentials folder for workspace ${dispatch.workspace_id}`,
      },
    };
  }
  if (!tool.validateArgs(dispatch.args)) {
    const first = tool.validateArgs.errors?.[0];
    return {
      refusal: {
        code: 'invalid_args',
        message: `args${first?.instancePath ?? ''} ${first?.message ?? 'do not match the tool parameters'}`,
      },
    };
  }
  if (context.running >= context.maxConcurrent) {
    return {
      refusal: {
        code: 'capacity_exhausted',
        message: `all ${context.maxConcurrent} execution slots are busy; retry later or on another agent`,
      },
    };
  }
  return { tool };
}
