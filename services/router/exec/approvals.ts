import type pg from 'pg';
import { ApiError } from '../http/errors.js';
import { findPolicy } from '../store/approval-policies.js';
import {
  closeApproval,
  escalateApproval,
  lockApproval,
  lockDueApprovals,
  type ApprovalRecord,
} from '../store/approvals.js';
import { appendAudit, keyActor } from '../store/audit-log.js';
import { withTransaction } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import { advanceInvocation } from './advance.js';
import { mayDecide, onApprovalTimeout } from './approval-rules.js';
import { publishExecEvents } from './exec-events.js';

export interface Decision {
  readonly projectId: string;
  readonly approvalId: string;
  readonly deciderKeyId: string;
  readonly verdict: 'approve' | 'reject';
  readonly note?: string;
  /** The request hash the reviewer saw; a different current one is refused. */
  readonly requestHash?: string;
}

/**
 * Approve or reject. The approval row is locked first, so an approve racing a reject (or two
 * approvers) yields exactly one outcome; the loser is told the approval is no longer pending.
 */
export async function decideApproval(pool: Pool, decision: Decision): Promise<ApprovalRecord> {
  return withTransaction(pool, async (client) => {
    const approval = await lockApproval(client, decision.projectId, decision.approvalId);
    if (!approval) throw new ApiError('approval_not_found', undefined, 'id');
    const refusal = mayDecide(
      approval,
      await findPolicy(client, approval.workspace_id),
      decision.deciderKeyId,
      new Date(),
      decision.requestHash,
    );
    if (refusal) throw new ApiError(refusal);
    const state = decision.verdict === 'approve' ? 'approved' : 'rejected';
    const actor = keyActor(decision.deciderKeyId);
    await closeApproval(client, approval.id, { state, decidedBy: decision.deciderKeyId, note: decision.note ?? null });
    await appendAudit(client, {
      projectId: approval.project_id,
      actor,
      event: `approval.${state}`,
      subject: approval.id,
      detail: {
        invocation_id: approval.invocation_id,
        stage: approval.stage,
        request_hash: approval.request_hash,
        ...(decision.note ? { note: decision.note } : {}),
      },
    });
    await advanceInvocation(
      client,
      approval.invocation_id,
      { type: state === 'approved' ? 'approved' : 'approval_rejected' },
      { actor, detail: { approval_id: approval.id } },
    );
    await publishApproval(client, approval, state, approval.stage);
    return {
      ...approval,
      state,
      decided_by: decision.deciderKeyId,
      decided_at: new Date(),
      note: decision.note ?? null,
    };
  });
}

/**
 * Expires or escalates approvals past their deadline. Deadlines live in the database, so a
 * router that restarts (or another replica) fires them; rows another router is sweeping are
 * skipped. Returns how many were handled.
 */
export async function sweepDueApprovals(pool: Pool, now = new Date()): Promise<number> {
  return withTransaction(pool, async (client) => {
    const due = await lockDueApprovals(client, now);
    for (const approval of due) await timeOut(client, approval, now);
    return due.length;
  });
}

async function timeOut(client: pg.PoolClient, approval: ApprovalRecord, now: Date): Promise<void> {
  const outcome = onApprovalTimeout(approval, await findPolicy(client, approval.workspace_id), now);
  if (outcome.action === 'escalate') {
    await escalateApproval(client, approval.id, outcome.expiresAt);
    await appendAudit(client, {
      projectId: approval.project_id,
      actor: 'router',
      event: 'approval.escalated',
      subject: approval.id,
      detail: { invocation_id: approval.invocation_id, expires_at: outcome.expiresAt.toISOString() },
    });
    return publishApproval(client, approval, 'pending', 2);
  }
  await closeApproval(client, approval.id, { state: 'expired', decidedBy: null });
  await appendAudit(client, {
    projectId: approval.project_id,
    actor: 'router',
    event: 'approval.expired',
    subject: approval.id,
    detail: { invocation_id: approval.invocation_id, stage: approval.stage },
  });
  await advanceInvocation(
    client,
    approval.invocation_id,
    { type: 'approval_expired' },
    { actor: 'router', detail: { approval_id: approval.id } },
  );
  await publishApproval(client, approval, 'expired', approval.stage);
}

function publishApproval(client: pg.PoolClient, approval: ApprovalRecord, state: string, stage: number): Promise<void> {
  return publishExecEvents(client, [
    {
      kind: 'approval',
      project_id: approval.project_id,
      invocation_id: approval.invocation_id,
      approval_id: approval.id,
      state,
      stage,
      at: new Date().toISOString(),
    },
  ]);
}
