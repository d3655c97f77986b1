import { describe, expect, it } from 'vitest';
import {
  approvalDeadline,
  approvedAfter,
  mayDecide,
  minApprovers,
  needsApproval,
  onApprovalTimeout,
  selfApprovalAllowed,
  type ApprovalFacts,
  type Decider,
} from '../../../services/router/exec/approval-rules.js';
import { chooseAgent } from '../../../services/router/exec/choose-agent.js';
import { requestHash } from '../../../services/protocol/request-hash.js';
import { defaultPolicy, type ApprovalPolicy } from '../../../services/router/store/approval-policies.js';

const now = new Date('2026-11-22T10:00:00Z');
const pending: ApprovalFacts = {
  state: 'pending',
  risk: 'destructive',
  stage: 1,
  requested_by: 'key_requester',
  requested_by_principal: 'usr_requester',
  origin: 'direct',
  min_approvers: 1,
  expires_at: new Date(now.getTime() + 60_000),
  request_hash: 'a'.repeat(64),
};
const policy = defaultPolicy('ws_000000000000');
const reviewer = { principalId: 'usr_reviewer', mayApprove: true };
const requester = { principalId: 'usr_requester', mayApprove: true };
const approve = (facts: ApprovalFacts, rules: ApprovalPolicy, who: Decider, earlier: string[] = [], hash?: string) =>
  mayDecide(facts, rules, who, 'approve', earlier, now, hash);

describe('approval rules', () => {
  it('lets another person with the approver role decide a pending, unexpired approval', () => {
    expect(approve(pending, policy, reviewer)).toBeUndefined();
    expect(approve(pending, policy, reviewer, [], 'a'.repeat(64))).toBeUndefined();
    expect(approve(pending, policy, { ...reviewer, mayApprove: false })).toBe('approver_not_allowed');
  });

  it('refuses the requester (whatever key they use) unless the policy allows it, decided or expired approvals, and a changed request', () => {
    expect(approve(pending, policy, requester)).toBe('self_approval_forbidden');
    expect(approve(pending, { ...policy, allow_self_approval: true }, requester)).toBeUndefined();
    expect(approve({ ...pending, state: 'approved' }, policy, reviewer)).toBe('approval_not_pending');
    expect(approve({ ...pending, state: 'expired' }, policy, reviewer)).toBe('approval_expired');
    expect(approve({ ...pending, expires_at: now }, policy, reviewer)).toBe('approval_expired');
    expect(approve(pending, policy, reviewer, [], 'b'.repeat(64))).toBe('approval_request_mismatch');
  });

  it('lets the requester withdraw (reject) their own call, even without the approver role', () => {
    expect(mayDecide(pending, policy, { ...requester, mayApprove: false }, 'reject', [], now)).toBeUndefined();
    expect(mayDecide(pending, policy, { ...reviewer, mayApprove: false }, 'reject', [], now)).toBe(
      'approver_not_allowed',
    );
  });

  it('never lets one person approve an irreversible call of their own, whatever the policy or origin', () => {
    const irreversible = { ...pending, risk: 'irreversible' as const };
    const lax = { ...policy, allow_self_approval: true, chat_user_may_approve: true };
    expect(approve(irreversible, lax, requester)).toBe('self_approval_forbidden');
    expect(approve({ ...irreversible, origin: 'chat' }, lax, requester)).toBe('self_approval_forbidden');
    expect(selfApprovalAllowed(irreversible, lax)).toBe(false);
  });

  it("in a chat, the user's consent is the gate for destructive calls unless the workspace turns it off", () => {
    const chat = { ...pending, origin: 'chat' as const };
    expect(approve(chat, policy, requester)).toBeUndefined();
    expect(approve(chat, { ...policy, chat_user_may_approve: false }, requester)).toBe('self_approval_forbidden');
    // Their consent needs no approver role; deciding someone else's chat call does.
    expect(approve(chat, policy, { ...requester, mayApprove: false })).toBeUndefined();
    expect(approve(chat, policy, { ...reviewer, mayApprove: false })).toBe('approver_not_allowed');
  });

  it('counts different people: the same person cannot approve twice; enough approvals close it', () => {
    const twoPeople = { ...pending, min_approvers: 2 };
    expect(approve(twoPeople, policy, reviewer, ['usr_reviewer'])).toBe('approval_already_decided');
    expect(
      approve(twoPeople, policy, { principalId: 'usr_second', mayApprove: true }, ['usr_reviewer']),
    ).toBeUndefined();
    expect(approvedAfter(twoPeople, 1)).toBe(false);
    expect(approvedAfter(twoPeople, 2)).toBe(true);
    expect(minApprovers('irreversible', { ...policy, min_approvers_irreversible: 2 })).toBe(2);
    expect(minApprovers('write', { ...policy, min_approvers_destructive: 2 })).toBe(1);
  });

  it("a workspace's approvers list replaces the approver role", () => {
    const listed = { ...policy, approvers: ['usr_listed'] };
    expect(approve(pending, listed, reviewer)).toBe('approver_not_allowed');
    expect(approve(pending, listed, { principalId: 'usr_listed', mayApprove: false })).toBeUndefined();
  });

  it('read and write calls wait only when the workspace asks for it; dangerous ones always', () => {
    expect(needsApproval('read', policy)).toBe(false);
    expect(needsApproval('write', policy)).toBe(false);
    expect(needsApproval('write', { ...policy, approval_required_write: true })).toBe(true);
    expect(needsApproval('read', { ...policy, approval_required_read: true })).toBe(true);
    expect(needsApproval('destructive', policy)).toBe(true);
    expect(needsApproval('irreversible', policy)).toBe(true);
  });

  it('after escalation, only the escalation reviewers decide (the approvers when none are named)', () => {
    const escalated = { ...pending, stage: 2 as const };
    const named = { ...policy, escalation_reviewers: ['usr_senior'] };
    expect(approve(escalated, named, reviewer)).toBe('approval_reviewer_not_allowed');
    expect(approve(escalated, named, { principalId: 'usr_senior', mayApprove: true })).toBeUndefined();
    expect(approve(escalated, policy, reviewer)).toBeUndefined();
  });

  it('times out by risk: 900 s destructive, 3600 s irreversible; escalates once when asked, then expires', () => {
    expect(approvalDeadline('destructive', policy, now).getTime() - now.getTime()).toBe(900_000);
    expect(approvalDeadline('irreversible', policy, now).getTime() - now.getTime()).toBe(3_600_000);
    expect(approvalDeadline('write', policy, now).getTime() - now.getTime()).toBe(900_000);
    expect(onApprovalTimeout(pending, policy, now)).toEqual({ action: 'expire' });
    const escalating = { ...policy, on_timeout_destructive: 'escalate' as const };
    expect(onApprovalTimeout(pending, escalating, now)).toEqual({
      action: 'escalate',
      expiresAt: new Date(now.getTime() + 900_000),
    });
    expect(onApprovalTimeout({ ...pending, stage: 2 }, escalating, now)).toEqual({ action: 'expire' });
    expect(onApprovalTimeout({ ...pending, risk: 'irreversible' }, escalating, now)).toEqual({ action: 'expire' });
  });
});

describe('request hash', () => {
  it('is the same whatever order the arguments were written in, and changes with any part', () => {
    const base = requestHash({ tool: 'pg_drop_database', args: { name: 'a', force: true }, workspace_id: 'ws_1' });
    expect(requestHash({ tool: 'pg_drop_database', args: { force: true, name: 'a' }, workspace_id: 'ws_1' })).toBe(
      base,
    );
    expect(requestHash({ tool: 'pg_drop_database', args: { name: 'b', force: true }, workspace_id: 'ws_1' })).not.toBe(
      base,
    );
    expect(requestHash({ tool: 'pg_drop_database', args: { name: 'a', force: true }, workspace_id: 'ws_2' })).not.toBe(
      base,
    );
    expect(
      requestHash({ tool: 'pg_terminate_backend', args: { name: 'a', force: true }, workspace_id: 'ws_1' }),
    ).not.toBe(base);
  });
});

describe('choosing an agent', () => {
  it('takes the least loaded by share of its slots, skips full ones, and is deterministic on ties', () => {
    const capacity = (id: string) => ({ a: 4, b: 10, c: 2 })[id];
    expect(chooseAgent(['b', 'a'], new Map(), capacity)).toBe('a');
    expect(
      chooseAgent(
        ['a', 'b'],
        new Map([
          ['a', 2],
          ['b', 2],
        ]),
        capacity,
      ),
    ).toBe('b');
    expect(chooseAgent(['c'], new Map([['c', 2]]), capacity)).toBeUndefined();
    // An agent whose lease did not report capacity yet gets one call at a time.
    expect(chooseAgent(['x'], new Map([['x', 1]]), capacity)).toBeUndefined();
    expect(chooseAgent(['x'], new Map(), capacity)).toBe('x');
  });
});
