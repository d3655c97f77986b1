import type { TraceCarrier } from '../../runtime/tracing.js';
import type pg from 'pg';
import { ApiError } from '../http/errors.js';
import type { Transactor } from '../store/batcher.js';
import { findPolicy, type ApprovalPolicy } from '../store/approval-policies.js';
import { insertApproval, type ApprovalRecord } from '../store/approvals.js';
import { actorOf, appendAudit, type ActingPrincipal } from '../store/audit-log.js';
import { withTransaction } from '../store/db.js';
import { hasExecutor, unavailableReason } from '../store/dispatch-queue.js';
import { newId } from '../store/ids.js';
import type { InvocationRecord, NewInvocation } from '../store/invocations.js';
import { insertInvocationLogged } from '../store/transitions.js';
import type { Pool } from '../store/pool.js';
import { approvalDeadline, minApprovers, needsApproval, type Origin } from './approval-rules.js';
import { EXEC_EVENTS_CHANNEL, EXEC_QUEUE_CHANNEL, type ExecEvent } from './exec-events.js';
import { requestHash } from '../../protocol/request-hash.js';
import type { ArgumentValidator, CatalogTool } from './tool-catalog.js';

export interface InvocationRequest {
  readonly projectId: string;
  readonly workspaceId: string;
  readonly tool: CatalogTool;
  readonly args: Record<string, unknown>;
  readonly timeoutMs?: number;
  /** Who asked, through which key and channel. */
  readonly requester: ActingPrincipal;
  /** Asked for directly (API, CLI, UI form) or proposed by the model in a chat; `direct` when unset. */
  readonly origin?: Origin;
  /** Wait for a person even where the workspace policy would not (a client asking for more care). */
  readonly forceApproval?: boolean;
  /** The requesting span's trace context: the dispatch and the agent's run continue it. */
  readonly trace?: TraceCarrier;
}

/**
 * Checks and stores a new invocation: arguments against the tool's schema first (nothing is
 * stored for a bad call), then an executor must exist somewhere, then the record, its approval
 * when the tool is dangerous, the audit entries and the wake-up, all in one transaction.
 */
export async function createInvocation(
  pool: Pool,
  validator: ArgumentValidator,
  request: InvocationRequest,
  transact: Transactor = (work) => withTransaction(pool, work),
): Promise<{ invocation: InvocationRecord; approval?: ApprovalRecord }> {
  const problem = validator.check(request.tool.parameter_schemas, request.args);
  if (problem) throw new ApiError('invalid_body', problem.message, problem.path);
  if (!(await hasExecutor(pool, request.workspaceId, request.tool.name))) {
    // A callback tool on agents without router credentials: say so, not just "no agent".
    if ((await unavailableReason(pool, request.workspaceId, request.tool.name)) === 'router_callback_missing')
      throw new ApiError('router_callback_missing', undefined, 'tool');
    throw new ApiError(
      'tool_executor_unavailable',
      `No online agent bound to workspace ${request.workspaceId} offers ${request.tool.name}; retry later`,
    );
  }
  const policy = await findPolicy(pool, request.workspaceId);
  const fields = newInvocation(request, policy);
  const actor = actorOf(request.requester);
  const created = {
    projectId: request.projectId,
    ...actor,
    event: `invocation.${fields.state}`,
    subject: fields.id,
    detail: {
      cause: 'created',
      tool: fields.tool,
      risk: fields.risk,
      workspace_id: fields.workspace_id,
      request_hash: fields.request_hash,
    },
  };
  const stateEvent: ExecEvent = {
    kind: 'state',
    project_id: request.projectId,
    invocation_id: fields.id,
    state: fields.state,
    attempt: 0,
    agent_id: null,
    at: new Date().toISOString(),
  };
  const notifications = [
    { channel: EXEC_EVENTS_CHANNEL, payload: JSON.stringify(stateEvent) },
    ...(fields.state === 'queued' ? [{ channel: EXEC_QUEUE_CHANNEL, payload: '' }] : []),
  ];
  return transact(async (client) => {
    const invocation = await insertInvocationLogged(client, fields, created, notifications);
    if (invocation.state !== 'pending_approval') return { invocation };
    const approval = await openApproval(client, invocation, policy);
    await appendAudit(client, {
      projectId: request.projectId,
      ...actor,
      event: 'approval.requested',
      subject: approval.id,
      detail: {
        invocation_id: invocation.id,
        request_hash: approval.request_hash,
        expires_at: approval.expires_at.toISOString(),
        min_approvers: approval.min_approvers,
        origin: approval.origin,
      },
    });
    return { invocation, approval };
  });
}

function newInvocation(request: InvocationRequest, policy: ApprovalPolicy): NewInvocation {
  return {
    id: newId('inv'),
    project_id: request.projectId,
    workspace_id: request.workspaceId,
    tool: request.tool.name,
    risk: request.tool.risk,
    args: request.args,
    request_hash: requestHash({ tool: request.tool.name, args: request.args, workspace_id: request.workspaceId }),
    requested_by: request.requester.keyId,
    requested_by_principal: request.requester.principalId,
    origin: request.origin ?? 'direct',
    // Dangerous calls always wait for a person; read and write ones when the workspace says so.
    state: request.forceApproval || needsApproval(request.tool.risk, policy) ? 'pending_approval' : 'queued',
    timeout_ms: Math.min(request.timeoutMs ?? request.tool.timeout_ms, request.tool.timeout_ms),
    trace: request.trace ?? null,
  };
}

async function openApproval(
  client: pg.PoolClient,
  invocation: InvocationRecord,
  policy: ApprovalPolicy,
): Promise<ApprovalRecord> {
  const risk = invocation.risk;
  return insertApproval(client, {
    id: newId('apr'),
    project_id: invocation.project_id,
    workspace_id: invocation.workspace_id,
    invocation_id: invocation.id,
    request_hash: invocation.request_hash,
    risk,
    requested_by: invocation.requested_by,
    requested_by_principal: invocation.requested_by_principal,
    origin: invocation.origin,
    min_approvers: minApprovers(risk, policy),
    expires_at: approvalDeadline(risk, policy, new Date()),
  });
}
