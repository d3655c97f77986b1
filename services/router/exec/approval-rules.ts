import type { ApprovalPolicy } from '../store/approval-policies.js';

export type Risk = 'read' | 'write' | 'destructive' | 'irreversible';
/** How a call came to be asked for: by a person directly (API, CLI, UI form), or proposed by the model in a chat. */
export type Origin = 'direct' | 'chat';

/** The parts of an approval its rules look at. */
export interface ApprovalFacts {
  readonly state: 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';
  readonly risk: Risk;
  readonly stage: 1 | 2;
  /** The key that asked (kept for the record; the rules go by the principal). */
  readonly requested_by: string;
  /** The person who asked, or the chat's user when the model proposed the call. */
  readonly requested_by_principal: string | null;
  readonly origin: Origin;
  /** Different people that must approve before the call may run. */
  readonly min_approvers: number;
  readonly expires_at: Date;
  readonly request_hash: string;
}

/** Who wants to decide, as the rules see them. */
export interface Decider {
  readonly principalId: string;
  /** Holds the approve permission in this project (role approver, through a key that carries it). */
  readonly mayApprove: boolean;
}

export type DecisionRefusal =
  | 'approval_not_pending'
  | 'approval_expired'
  | 'self_approval_forbidden'
  | 'approval_reviewer_not_allowed'
  | 'approval_request_mismatch'
  | 'approval_already_decided'
  | 'approver_not_allowed';

/**
 * May this person decide this approval now? Pure, so the same rules hold on every path (API,
 * xeroctl, the web UI, a chat). Self-approval means the same principal, whatever key it uses.
 * `expectedHash`, when the reviewer sends it, pins what they looked at: a request that changed
 * since is refused rather than approved blind. Rejecting is open to the requester (it is
 * withdrawing the call); approving is not, unless the policy allows it for this kind of request.
 */
export function mayDecide(
  approval: ApprovalFacts,
  policy: ApprovalPolicy,
  decider: Decider,
  verdict: 'approve' | 'reject',
  earlier: readonly string[],
  now: Date,
  expectedHash?: string,
): DecisionRefusal | undefined {
  if (approval.state === 'expired') return 'approval_expired';
  if (approval.state !== 'pending') return 'approval_not_pending';
  if (approval.expires_at.getTime() <= now.getTime()) return 'approval_expired';
  if (expectedHash !== undefined && expectedHash !== approval.request_hash) return 'approval_request_mismatch';
  if (earlier.includes(decider.principalId)) return 'approval_already_decided';
  const self = approval.requested_by_principal !== null && decider.principalId === approval.requested_by_principal;
  if (verdict === 'reject' && self) return undefined;
  if (verdict === 'approve' && self) {
    if (!selfApprovalAllowed(approval, policy)) return 'self_approval_forbidden';
    // In a chat the requester's approval is their consent to what the model proposed: no role needed.
    if (approval.origin !== 'chat' && !mayReview(policy, decider)) return 'approver_not_allowed';
  } else if (!mayReview(policy, decider)) return 'approver_not_allowed';
  if (
    approval.stage === 2 &&
    policy.escalation_reviewers.length > 0 &&
    !policy.escalation_reviewers.includes(decider.principalId)
  )
    return 'approval_reviewer_not_allowed';
  return undefined;
}

/** The workspace's approvers list, when it has one, names who may decide; otherwise the approver role does. */
function mayReview(policy: ApprovalPolicy, decider: Decider): boolean {
  return policy.approvers.length > 0 ? policy.approvers.includes(decider.principalId) : decider.mayApprove;
}

/**
 * Irreversible calls always need someone else (four eyes). Otherwise a person who asked directly
 * already chose the call, so the gate is a second pair of eyes (self-approval off unless the
 * policy allows it); in a chat the gate is the user's consent to what the model proposed (on
 * unless the policy turns it off).
 */
export function selfApprovalAllowed(approval: Pick<ApprovalFacts, 'risk' | 'origin'>, policy: ApprovalPolicy): boolean {
  if (approval.risk === 'irreversible') return false;
  return approval.origin === 'chat' ? policy.chat_user_may_approve : policy.allow_self_approval;
}

/** After an approval by one more person: approved once enough different people have. */
export function approvedAfter(approval: Pick<ApprovalFacts, 'min_approvers'>, approvals: number): boolean {
  return approvals >= approval.min_approvers;
}

/** Does a call of this risk wait for an approval in this workspace? */
export function needsApproval(risk: Risk, policy: ApprovalPolicy): boolean {
  if (risk === 'destructive' || risk === 'irreversible') return true;
  return risk === 'write' ? policy.approval_required_write : policy.approval_required_read;
}

export function minApprovers(risk: Risk, policy: ApprovalPolicy): number {
  if (risk === 'irreversible') return policy.min_approvers_irreversible;
  return risk === 'destructive' ? policy.min_approvers_destructive : 1;
}

// Read and write calls that need approval (by policy) wait as long as destructive ones.
const timeoutRisk = (risk: Risk): 'destructive' | 'irreversible' =>
  risk === 'irreversible' ? 'irreversible' : 'destructive';

export function timeoutSeconds(risk: Risk, policy: ApprovalPolicy): number {
  return timeoutRisk(risk) === 'destructive' ? policy.timeout_seconds_destructive : policy.timeout_seconds_irreversible;
}

export function approvalDeadline(risk: Risk, policy: ApprovalPolicy, now: Date): Date {
  return new Date(now.getTime() + timeoutSeconds(risk, policy) * 1_000);
}

export type TimeoutOutcome = { readonly action: 'expire' } | { readonly action: 'escalate'; readonly expiresAt: Date };

/** A first-stage timeout escalates when the policy says so (once, for another timeout); otherwise it expires. */
export function onApprovalTimeout(approval: ApprovalFacts, policy: ApprovalPolicy, now: Date): TimeoutOutcome {
  const action =
    timeoutRisk(approval.risk) === 'destructive' ? policy.on_timeout_destructive : policy.on_timeout_irreversible;
  if (action === 'escalate' && approval.stage === 1)
    return { action: 'escalate', expiresAt: approvalDeadline(approval.risk, policy, now) };
  return { action: 'expire' };
}
