import { describe, expect, it } from 'vitest';
import {
  approvalDeadline,
  mayDecide,
  onApprovalTimeout,
  type ApprovalFacts,
} from '../../../services/router/exec/approval-rules.js';
import { chooseAgent } from '../../../services/router/exec/choose-agent.js';
import { requestHash } from '../../../services/protocol/request-hash.js';
import { defaultPolicy } from '../../../services/router/store/approval-policies.js';

const now = new Date('2026-11-22T10:00:00Z');
const pending: ApprovalFacts = {
  state: 'pending',
  risk: 'destructive',
  stage: 1,
  requested_by: 'key_requester',
  expires_at: new Date(now.getTime() + 60_000),
  request_hash: 'a'.repeat(64),
};
const policy = defaultPolicy('ws_000000000000');

describe('approval rules', () => {
  it('lets another key decide a pending, unexpired approval', () => {
    expect(mayDecide(pending, policy, 'key_reviewer', now)).toBeUndefined();
    expect(mayDecide(pending, policy, 'key_reviewer', now, 'a'.repeat(64))).toBeUndefined();
  });

  it('refuses the requester unless the policy allows it, decided or expired approvals, and a changed request', () => {
    expect(mayDecide(pending, policy, 'key_requester', now)).toBe('self_approval_forbidden');
    expect(mayDecide(pending, { ...policy, allow_self_approval: true }, 'key_requester', now)).toBeUndefined();
    expect(mayDecide({ ...pending, state: 'approved' }, policy, 'key_reviewer', now)).toBe('approval_not_pending');
    expect(mayDecide({ ...pending, state: 'expired' }, policy, 'key_reviewer', now)).toBe('approval_expired');
    expect(mayDecide({ ...pending, expires_at: now }, policy, 'key_reviewer', now)).toBe('approval_expired');
    expect(mayDecide(pending, policy, 'key_reviewer', now, 'b'.repeat(64))).toBe('approval_request_mismatch');
  });

  it('after escalation, only the escalation reviewers decide (anyone but the requester when none are named)', () => {
    const escalated = { ...pending, stage: 2 as const };
    const named = { ...policy, escalation_reviewers: ['key_senior'] };
    expect(mayDecide(escalated, named, 'key_reviewer', now)).toBe('approval_reviewer_not_allowed');
    expect(mayDecide(escalated, named, 'key_senior', now)).toBeUndefined();
    expect(mayDecide(escalated, policy, 'key_reviewer', now)).toBeUndefined();
  });

  it('times out by risk: 900 s destructive, 3600 s irreversible; escalates once when asked, then expires', () => {
    expect(approvalDeadline('destructive', policy, now).getTime() - now.getTime()).toBe(900_000);
    expect(approvalDeadline('irreversible', policy, now).getTime() - now.getTime()).toBe(3_600_000);
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
