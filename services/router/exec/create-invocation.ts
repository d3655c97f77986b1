import type { TraceCarrier } from '../../runtime/tracing.js';
import type pg from 'pg';
import { ApiError } from '../http/errors.js';
import type { Transactor } from '../store/batcher.js';
import { findPolicy } from '../store/approval-policies.js';
import { insertApproval, type ApprovalRecord } from '../store/approvals.js';
import { appendAudit, keyActor } from '../store/audit-log.js';
import { withTransaction } from '../store/db.js';
import { hasExecutor } from '../store/dispatch-queue.js';
import { newId } from '../store/ids.js';
import type { InvocationRecord, NewInvocation } from '../store/invocations.js';
import { insertInvocationLogged } from '../store/transitions.js';
import type { Pool } from '../store/pool.js';
import { approvalDeadline } from './approval-rules.js';
import { EXEC_EVENTS_CHANNEL, EXEC_QUEUE_CHANNEL, type ExecEvent } from './exec-events.js';
import { initialState } from './invocation-state.js';
import { requestHash } from '../../protocol/request-hash.js';
import type { ArgumentValidator, CatalogTool } from './tool-catalog.js';

export interface InvocationRequest {
  readonly projectId: string;
  readonly workspaceId: string;
  readonly tool: CatalogTool;
  readonly args: Record<string, unknown>;
  readonly timeoutMs?: number;
  readonly requestedBy: string;
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
    throw new ApiError(
      'tool_executor_unavailable',
      `No online agent bound to workspace ${request.workspaceId} offers ${request.tool.name}; retry later`,
    );
  }
  const fields = newInvocation(request);
  const actor = keyActor(request.requestedBy);
  const created = {
    projectId: request.projectId,
    actor,
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
    const approval = await openApproval(client, invocation);
    await appendAudit(client, {
      projectId: request.projectId,
      actor,
      event: 'approval.requested',
      subject: approval.id,
      detail: {
        invocation_id: invocation.id,
        request_hash: approval.request_hash,
        expires_at: approval.expires_at.toISOString(),
      },
    });
    return { invocation, approval };
  });
}

function newInvocation(request: InvocationRequest): NewInvocation {
  return {
    id: newId('inv'),
    project_id: request.projectId,
    workspace_id: request.workspaceId,
    tool: request.tool.name,
    risk: request.tool.risk,
    args: request.args,
    request_hash: requestHash({ tool: request.tool.name, args: request.args, workspace_id: request.workspaceId }),
    requested_by: request.requestedBy,
    state: initialState(request.tool.risk).state,
    timeout_ms: Math.min(request.timeoutMs ?? request.tool.timeout_ms, request.tool.timeout_ms),
    trace: request.trace ?? null,
  };
}

async function openApproval(client: pg.PoolClient, invocation: InvocationRecord): Promise<ApprovalRecord> {
  const policy = await findPolicy(client, invocation.workspace_id);
  const risk = invocation.risk as 'destructive' | 'irreversible';
  return insertApproval(client, {
    id: newId('apr'),
    project_id: invocation.project_id,
    workspace_id: invocation.workspace_id,
    invocation_id: invocation.id,
    request_hash: invocation.request_hash,
    risk,
    requested_by: invocation.requested_by,
    expires_at: approvalDeadline(risk, policy, new Date()),
  });
}
