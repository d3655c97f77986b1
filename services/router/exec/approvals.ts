import type pg from 'pg';
import { ApiError } from '../http/errors.js';
import { findPolicy } from '../store/approval-policies.js';
import {
  closeApproval,
  decisionsOf,
  escalateApproval,
  insertDecision,
  lockApproval,
  lockDueApprovals,
  type ApprovalDecision,
  type ApprovalRecord,
} from '../store/approvals.js';
import { appendAudit } from '../store/audit-log.js';
import { withTransaction } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import { advanceInvocation } from './advance.js';
import { approvedAfter, mayDecide, onApprovalTimeout, type Decider } from './approval-rules.js';
import { publishExecEvents } from './exec-events.js';

export interface Decision {
  readonly projectId: string;
  readonly approvalId: string;
  /** The person deciding, the key they used and how it came (a session's client, a plain key's `api`, a chat). */
  readonly decider: Decider & { readonly keyId: string; readonly channel: ApprovalDecision['channel'] };
  readonly verdict: 'approve' | 'reject';
  readonly note?: string;
  /** The request hash the reviewer saw; a different current one is refused. */
  readonly requestHash?: string;
}

/**
 * Records one person's decision. The approval row is locked first, so racing decisions are
 * taken one at a time: a reject closes it at once; an approve closes it once enough different
 * people have approved (`min_approvers`), and until then it stays pending with the decision
 * kept. A decision that comes too late is told the approval is no longer pending.
 */
export async function decideApproval(pool: Pool, decision: Decision, now: Date = new Date()): Promise<ApprovalRecord> {
  return withTransaction(pool, async (client) => {
    const approval = await lockApproval(client, decision.projectId, decision.approvalId);
    if (!approval) throw new ApiError('approval_not_found', undefined, 'id');
    const earlier = await decisionsOf(client, [approval.id]);
    const policy = await findPolicy(client, approval.workspace_id);
    const refusal = mayDecide(
      approval,
      policy,
      decision.decider,
      decision.verdict,
      earlier.map((entry) => entry.principal_id),
      now,
      decision.requestHash,
    );
    if (refusal) throw new ApiError(refusal);
    const { decider } = decision;
    const actor = { actor: decider.principalId, via: { key_id: decider.keyId, channel: decider.channel } };
    await insertDecision(client, {
      approval_id: approval.id,
      principal_id: decider.principalId,
      key_id: decider.keyId,
      channel: decider.channel,
      verdict: decision.verdict,
      note: decision.note ?? null,
    });
    const approvals =
      earlier.filter((entry) => entry.verdict === 'approve').length + (decision.verdict === 'approve' ? 1 : 0);
    const detail = {
      invocation_id: approval.invocation_id,
      stage: approval.stage,
      request_hash: approval.request_hash,
      approvals,
      min_approvers: approval.min_approvers,
      ...(decision.note ? { note: decision.note } : {}),
    };
    if (decision.verdict === 'approve' && !approvedAfter(approval, approvals)) {
      await appendAudit(client, {
        projectId: approval.project_id,
        ...actor,
        event: 'approval.decision_recorded',
        subject: approval.id,
        detail,
      });
      await publishApproval(client, approval, 'pending', approval.stage);
      return approval;
    }
    const state = decision.verdict === 'approve' ? 'approved' : 'rejected';
    await closeApproval(client, approval.id, { state, decidedBy: decider.principalId, note: decision.note ?? null });
    await appendAudit(client, {
      projectId: approval.project_id,
      ...actor,
      event: `approval.${state}`,
      subject: approval.id,
      detail,
    });
    await advanceInvocation(
      client,
      approval.invocation_id,
      { type: state === 'approved' ? 'approved' : 'approval_rejected' },
      { ...actor, detail: { approval_id: approval.id } },
    );
    await publishApproval(client, approval, state, approval.stage);
    return { ...approval, state, decided_by: decider.principalId, decided_at: now, note: decision.note ?? null };
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
