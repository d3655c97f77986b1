import type pg from 'pg';
import { appendAudit, type AuditEntry } from '../store/audit-log.js';
import { closeApproval, findApprovalOf } from '../store/approvals.js';
import { notify } from '../store/listener.js';
import { lockInvocation, type InvocationRecord, type InvocationResultSummary } from '../store/invocations.js';
import { writeTransition } from '../store/transitions.js';
import {
  EXEC_CONTROL_CHANNEL,
  EXEC_EVENTS_CHANNEL,
  EXEC_QUEUE_CHANNEL,
  type ControlOrder,
  type ExecEvent,
} from './exec-events.js';
import { transition, type InvocationEvent, type InvocationState } from './invocation-state.js';

export interface EventContext {
  /** Who caused it, as the audit log names actors. */
  readonly actor: string;
  /** The key and channel a principal acted through. */
  readonly via?: AuditEntry['via'];
  /** For agent reports: the agent that sent it (a report from another agent is fenced). */
  readonly agentId?: string;
  readonly agentToAssign?: string;
  readonly result?: InvocationResultSummary;
  readonly signature?: string | null;
  readonly detail?: Record<string, unknown>;
  /** Only this project's invocations (API callers); agents and sweepers pass none. */
  readonly projectId?: string;
}

export type AdvanceOutcome =
  | { readonly status: 'applied'; readonly invocation: InvocationRecord }
  | {
      readonly status: 'refused';
      readonly reason: 'fenced' | 'invalid_transition';
      readonly invocation: InvocationRecord;
    }
  | { readonly status: 'not_found' };

/**
 * Applies one event to one invocation inside the caller's transaction: locks the row, asks the
 * pure state machine, writes the result, appends the audit entry and queues the notifications
 * (delivered at commit). Effects that touch other rows (closing the approval) happen here too,
 * so a transition and its consequences commit or vanish together.
 */
export async function advanceInvocation(
  client: pg.PoolClient,
  invocationId: string,
  event: InvocationEvent,
  context: EventContext,
): Promise<AdvanceOutcome> {
  const current = await lockInvocation(client, invocationId, context.projectId);
  if (!current) return { status: 'not_found' };
  const fencedAgent = 'attempt' in event && context.agentId !== undefined && context.agentId !== current.agent_id;
  const outcome = fencedAgent ? ({ ok: false, reason: 'fenced' } as const) : transition(current, event);
  if (!outcome.ok) {
    if (outcome.reason === 'fenced') await auditFenced(client, current, event, context);
    return { status: 'refused', reason: outcome.reason, invocation: current };
  }
  const next: InvocationRecord = {
    ...current,
    state: outcome.next.state,
    attempt: outcome.next.attempt,
    agent_id: context.agentToAssign ?? current.agent_id,
    result: context.result ?? current.result,
  };
  await writeTransition(
    client,
    current.id,
    current,
    {
      state: next.state,
      attempt: next.attempt,
      ...(context.agentToAssign ? { agent_id: context.agentToAssign } : {}),
      ...(context.result ? { result: context.result } : {}),
    },
    auditEntry(current, next, event, context),
    { channel: EXEC_EVENTS_CHANNEL, payload: JSON.stringify(stateEvent(next)) },
  );
  for (const effect of outcome.effects) await carryOut(client, effect, current, context);
  return { status: 'applied', invocation: next };
}

/** What a reporting agent believes: the invocation is in this state, at this attempt, and its own. */
export interface Expected {
  readonly state: InvocationState;
  readonly attempt: number;
  readonly projectId: string;
  readonly agentId: string;
}

/**
 * The common case of an agent's report in one statement: when the transition from the expected
 * state does not depend on the call's risk and has no effects, a conditional write (state,
 * attempt and agent must match) applies it without reading the row first. Anything else —
 * the row moved on, a fenced attempt, a risk-dependent outcome — takes the locked path.
 */
export async function advanceExpected(
  client: pg.PoolClient,
  invocationId: string,
  expected: Expected,
  event: InvocationEvent,
  context: EventContext,
): Promise<void> {
  const asSafe = transition({ state: expected.state, risk: 'read', attempt: expected.attempt }, event);
  const asDangerous = transition({ state: expected.state, risk: 'irreversible', attempt: expected.attempt }, event);
  const riskFree =
    asSafe.ok &&
    asDangerous.ok &&
    asSafe.next.state === asDangerous.next.state &&
    asSafe.effects.length === 0 &&
    asDangerous.effects.length === 0;
  if (riskFree) {
    const next = {
      id: invocationId,
      project_id: expected.projectId,
      state: asSafe.next.state,
      attempt: asSafe.next.attempt,
      agent_id: expected.agentId,
    };
    const current = { project_id: expected.projectId, id: invocationId, state: expected.state };
    const moved = await writeTransition(
      client,
      invocationId,
      { state: expected.state, attempt: expected.attempt, agentId: expected.agentId },
      {
        state: next.state,
        attempt: next.attempt,
        ...(context.result ? { result: context.result } : {}),
      },
      auditEntry(current, next, event, context),
      { channel: EXEC_EVENTS_CHANNEL, payload: JSON.stringify(stateEvent(next)) },
    );
    if (moved) return;
  }
  await advanceInvocation(client, invocationId, event, context);
}

type Moved = Pick<InvocationRecord, 'id' | 'project_id' | 'state' | 'attempt' | 'agent_id'>;

function auditEntry(
  current: Pick<InvocationRecord, 'id' | 'project_id' | 'state'>,
  next: Moved,
  event: InvocationEvent,
  context: EventContext,
): AuditEntry {
  return {
    projectId: current.project_id,
    actor: context.actor,
    ...(context.via ? { via: context.via } : {}),
    event: `invocation.${next.state}`,
    subject: current.id,
    signature: context.signature ?? null,
    detail: {
      from: current.state,
      cause: event.type,
      attempt: next.attempt,
      agent_id: next.agent_id,
      ...(context.result ? { result: context.result } : {}),
      ...context.detail,
    },
  };
}

export function stateEvent(invocation: Moved): ExecEvent {
  return {
    kind: 'state',
    project_id: invocation.project_id,
    invocation_id: invocation.id,
    state: invocation.state,
    attempt: invocation.attempt,
    agent_id: invocation.agent_id,
    at: new Date().toISOString(),
  };
}

async function carryOut(
  client: pg.PoolClient,
  effect: string,
  current: InvocationRecord,
  context: EventContext,
): Promise<void> {
  if (effect === 'dispatch') return notify(client, EXEC_QUEUE_CHANNEL, '');
  if (effect === 'send_cancel' && current.agent_id) {
    const order: ControlOrder = {
      action: 'cancel',
      agent_id: current.agent_id,
      invocation_id: current.id,
      attempt: current.attempt,
    };
    return notify(client, EXEC_CONTROL_CHANNEL, JSON.stringify(order));
  }
  if (effect === 'close_approval') {
    const approval = await findApprovalOf(client, current.id);
    if (approval && (await closeApproval(client, approval.id, { state: 'cancelled', decidedBy: context.actor }))) {
      await appendAudit(client, {
        projectId: current.project_id,
        actor: context.actor,
        ...(context.via ? { via: context.via } : {}),
        event: 'approval.cancelled',
        subject: approval.id,
        detail: { invocation_id: current.id },
      });
    }
  }
  // notify_operator: the `invocation.ambiguous` audit entry and state event are the notice.
}

async function auditFenced(
  client: pg.PoolClient,
  current: InvocationRecord,
  event: InvocationEvent,
  context: EventContext,
): Promise<void> {
  if (event.type !== 'result' && event.type !== 'accepted') return;
  await appendAudit(client, {
    projectId: current.project_id,
    actor: context.actor,
    event: `invocation.${event.type}_fenced`,
    subject: current.id,
    signature: context.signature ?? null,
    detail: {
      attempt: event.attempt,
      current_attempt: current.attempt,
      current_agent: current.agent_id,
      state: current.state,
      ...(event.type === 'result' ? { outcome: event.outcome } : {}),
    },
  });
}
