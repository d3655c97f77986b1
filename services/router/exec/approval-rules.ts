import type { ApprovalPolicy } from '../store/approval-policies.js';

/** The parts of an approval its rules look at. */
export interface ApprovalFacts {
  readonly state: 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';
  readonly risk: 'destructive' | 'irreversible';
  readonly stage: 1 | 2;
  readonly requested_by: string;
  readonly expires_at: Date;
  readonly request_hash: string;
}

export type DecisionRefusal =
  | 'approval_not_pending'
  | 'approval_expired'
  | 'self_approval_forbidden'
  | 'approval_reviewer_not_allowed'
  | 'approval_request_mismatch';

/**
 * May this key decide this approval now? Pure, so the same rules hold on every path (API,
 * xeroctl, /ops, chat). `expectedHash`, when the reviewer sends it, pins what they looked at:
 * a request that changed since is refused rather than approved blind.
 */
export function mayDecide(
  approval: ApprovalFacts,
  policy: ApprovalPolicy,
  deciderKeyId: string,
  now: Date,
  expectedHash?: string,
): DecisionRefusal | undefined {
  if (approval.state === 'expired') return 'approval_expired';
  if (approval.state !== 'pending') return 'approval_not_pending';
  if (approval.expires_at.getTime() <= now.getTime()) return 'approval_expired';
  if (expectedHash !== undefined && expectedHash !== approval.request_hash) return 'approval_request_mismatch';
  if (deciderKeyId === approval.requested_by && !policy.allow_self_approval) return 'self_approval_forbidden';
  if (
    approval.stage === 2 &&
    policy.escalation_reviewers.length > 0 &&
    !policy.escalation_reviewers.includes(deciderKeyId)
  )
    return 'approval_reviewer_not_allowed';
  return undefined;
}

export function timeoutSeconds(risk: ApprovalFacts['risk'], policy: ApprovalPolicy): number {
  return risk === 'destructive' ? policy.timeout_seconds_destructive : policy.timeout_seconds_irreversible;
}

export function approvalDeadline(risk: ApprovalFacts['risk'], policy: ApprovalPolicy, now: Date): Date {
  return new Date(now.getTime() + timeoutSeconds(risk, policy) * 1_000);
}

export type TimeoutOutcome = { readonly action: 'expire' } | { readonly action: 'escalate'; readonly expiresAt: Date };

/** A first-stage timeout escalates when the policy says so (once, for another timeout); otherwise it expires. */
export function onApprovalTimeout(approval: ApprovalFacts, policy: ApprovalPolicy, now: Date): TimeoutOutcome {
  const action = approval.risk === 'destructive' ? policy.on_timeout_destructive : policy.on_timeout_irreversible;
  if (action === 'escalate' && approval.stage === 1)
    return { action: 'escalate', expiresAt: approvalDeadline(approval.risk, policy, now) };
  return { action: 'expire' };
}
