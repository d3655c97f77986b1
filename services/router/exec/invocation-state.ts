/**
 * The invocation state machine (ARCHITECTURE §7) as one pure function: a state, an event, and
 * the next state with the effects the caller must carry out. Persistence applies a transition
 * with a conditional UPDATE on the state it was computed from, so replicas never both win.
 */
import { RISKS, type Risk } from '../../protocol/request-hash.js';

export { RISKS, type Risk };

/** Every state, in the order a call moves through them; the HTTP schema and the tests use this list. */
export const INVOCATION_STATES = [
  'pending_approval',
  'queued',
  'dispatched',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'rejected',
  'expired',
  'approval_voided',
  'ambiguous',
] as const;
export type InvocationState = (typeof INVOCATION_STATES)[number];

/** States nothing leaves. `ambiguous` is not one: an operator resolves it. */
export const FINAL_STATE_LIST = [
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'rejected',
  'expired',
  'approval_voided',
] as const satisfies readonly InvocationState[];
export const FINAL_STATES: ReadonlySet<InvocationState> = new Set(FINAL_STATE_LIST);

export interface Invocation {
  readonly state: InvocationState;
  readonly risk: Risk;
  /** The current dispatch attempt; 0 before the first dispatch. */
  readonly attempt: number;
}

export type AgentOutcome = 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'interrupted' | 'rejected';

export type InvocationEvent =
  | { readonly type: 'approved' }
  | { readonly type: 'approval_rejected' }
  | { readonly type: 'approval_expired' }
  | { readonly type: 'dispatched' }
  /** At dispatch, a dangerous call had no approved approval matching what it would run now. */
  | { readonly type: 'approval_voided' }
  | { readonly type: 'accepted'; readonly attempt: number }
  | { readonly type: 'result'; readonly attempt: number; readonly outcome: AgentOutcome }
  | { readonly type: 'lease_lost'; readonly attempt: number }
  /** The dispatch frame never left this router (the agent's connection was gone): nothing ran. */
  | { readonly type: 'undelivered'; readonly attempt: number }
  | { readonly type: 'cancel' }
  | { readonly type: 'resolved'; readonly outcome: 'succeeded' | 'failed' };

export type Effect = 'dispatch' | 'send_cancel' | 'notify_operator' | 'close_approval';

export type Transition =
  | { readonly ok: true; readonly next: Invocation; readonly effects: readonly Effect[] }
  | { readonly ok: false; readonly reason: 'fenced' | 'invalid_transition' };

/** Only calls that change nothing, or change it recoverably, may run again after a lost agent. */
export function mayRerun(risk: Risk): boolean {
  return risk === 'read' || risk === 'write';
}

/** Where a new invocation starts: dangerous calls wait for a human. */
export function initialState(risk: Risk): Invocation {
  return { state: mayRerun(risk) ? 'queued' : 'pending_approval', risk, attempt: 0 };
}

export function transition(current: Invocation, event: InvocationEvent): Transition {
  if (FINAL_STATES.has(current.state)) return invalid();
  if ('attempt' in event && event.attempt !== current.attempt) return { ok: false, reason: 'fenced' };
  const to = (state: InvocationState, effects: Effect[] = [], attempt = current.attempt): Transition => ({
    ok: true,
    next: { ...current, state, attempt },
    effects,
  });
  switch (event.type) {
    case 'approved':
      return current.state === 'pending_approval' ? to('queued', ['dispatch']) : invalid();
    case 'approval_rejected':
      return current.state === 'pending_approval' ? to('rejected') : invalid();
    case 'approval_expired':
      return current.state === 'pending_approval' ? to('expired') : invalid();
    case 'dispatched':
      return current.state === 'queued' ? to('dispatched', [], current.attempt + 1) : invalid();
    case 'approval_voided':
      return current.state === 'queued' ? to('approval_voided') : invalid();
    case 'accepted':
      return current.state === 'dispatched' ? to('running') : invalid();
    case 'result':
      return current.state === 'dispatched' || current.state === 'running'
        ? afterResult(current, event.outcome, to)
        : invalid();
    case 'undelivered':
      return current.state === 'dispatched' ? to('queued', ['dispatch']) : invalid();
    case 'lease_lost':
      return current.state === 'dispatched' || current.state === 'running' ? afterLostAgent(current, to) : invalid();
    case 'cancel':
      return to(
        'cancelled',
        current.state === 'dispatched' || current.state === 'running'
          ? ['send_cancel']
          : current.state === 'pending_approval'
            ? ['close_approval']
            : [],
      );
    case 'resolved':
      return current.state === 'ambiguous' ? to(event.outcome) : invalid();
  }
}

type To = (state: InvocationState, effects?: Effect[]) => Transition;

function afterResult(current: Invocation, outcome: AgentOutcome, to: To): Transition {
  if (outcome === 'interrupted') return afterLostAgent(current, to);
  // The agent refused without running anything (capacity, expiry, invalid arguments).
  if (outcome === 'rejected') return to('failed');
  return to(outcome);
}

// A lost agent may or may not have run the call: safe ones go again as a new attempt,
// dangerous ones wait for an operator to say what happened.
function afterLostAgent(current: Invocation, to: To): Transition {
  return mayRerun(current.risk) ? to('queued', ['dispatch']) : to('ambiguous', ['notify_operator']);
}

function invalid(): Transition {
  return { ok: false, reason: 'invalid_transition' };
}
