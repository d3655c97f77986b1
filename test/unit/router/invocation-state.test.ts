import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FINAL_STATES,
  INVOCATION_STATES,
  RISKS as ALL_RISKS,
  initialState,
  transition,
  type AgentOutcome,
  type Invocation,
  type InvocationEvent,
  type InvocationState,
  type Risk,
} from '../../../services/router/exec/invocation-state.js';

const STATES: readonly InvocationState[] = INVOCATION_STATES;
const RISKS: readonly Risk[] = ALL_RISKS;
const OUTCOMES: AgentOutcome[] = ['succeeded', 'failed', 'timed_out', 'cancelled', 'interrupted', 'rejected'];
const eventsAt = (attempt: number): InvocationEvent[] => [
  { type: 'approved' },
  { type: 'approval_rejected' },
  { type: 'approval_expired' },
  { type: 'dispatched' },
  { type: 'accepted', attempt },
  ...OUTCOMES.map((outcome) => ({ type: 'result' as const, attempt, outcome })),
  { type: 'lease_lost', attempt },
  { type: 'undelivered', attempt },
  { type: 'cancel' },
  { type: 'approval_voided' },
  { type: 'resolved', outcome: 'succeeded' },
  { type: 'resolved', outcome: 'failed' },
];
const label = (event: InvocationEvent) => ('outcome' in event ? `${event.type}:${event.outcome}` : event.type);

// Every transition the design allows, for a safe (read) and a dangerous (destructive) call.
// Anything not listed must be refused.
const ALLOWED: Record<'safe' | 'dangerous', Record<string, string>> = {
  safe: {
    'queued|dispatched': 'dispatched',
    'queued|cancel': 'cancelled',
    'queued|approval_voided': 'approval_voided',
    'dispatched|accepted': 'running',
    'dispatched|lease_lost': 'queued',
    'dispatched|undelivered': 'queued',
    'dispatched|cancel': 'cancelled',
    'running|lease_lost': 'queued',
    'running|cancel': 'cancelled',
    'pending_approval|approved': 'queued',
    'pending_approval|approval_rejected': 'rejected',
    'pending_approval|approval_expired': 'expired',
    'pending_approval|cancel': 'cancelled',
    'ambiguous|cancel': 'cancelled',
    'ambiguous|resolved:succeeded': 'succeeded',
    'ambiguous|resolved:failed': 'failed',
    ...Object.fromEntries(
      ['dispatched', 'running'].flatMap((state) => [
        [`${state}|result:succeeded`, 'succeeded'],
        [`${state}|result:failed`, 'failed'],
        [`${state}|result:timed_out`, 'timed_out'],
        [`${state}|result:cancelled`, 'cancelled'],
        [`${state}|result:rejected`, 'failed'],
        [`${state}|result:interrupted`, 'queued'],
      ]),
    ),
  },
  dangerous: {},
};
ALLOWED.dangerous = Object.fromEntries(
  Object.entries(ALLOWED.safe).map(([key, state]) => [key, /lease_lost|interrupted/.test(key) ? 'ambiguous' : state]),
);

describe('invocation state machine', () => {
  it('starts safe calls queued and dangerous ones waiting for approval', () => {
    expect(RISKS.map((risk) => initialState(risk).state)).toEqual([
      'queued',
      'queued',
      'pending_approval',
      'pending_approval',
    ]);
  });

  for (const [kind, risk] of [
    ['safe', 'read'],
    ['dangerous', 'irreversible'],
  ] as const) {
    it(`allows exactly the designed transitions for a ${kind} call (every state × every event)`, () => {
      const seen: Record<string, string> = {};
      for (const state of STATES) {
        for (const event of eventsAt(1)) {
          const outcome = transition({ state, risk, attempt: 1 }, event);
          if (outcome.ok) seen[`${state}|${label(event)}`] = outcome.next.state;
        }
      }
      expect(seen).toEqual(ALLOWED[kind]);
    });
  }

  it('fences events of another attempt, and numbers each dispatch', () => {
    const running: Invocation = { state: 'running', risk: 'write', attempt: 2 };
    expect(transition(running, { type: 'result', attempt: 1, outcome: 'succeeded' })).toEqual({
      ok: false,
      reason: 'fenced',
    });
    expect(transition(running, { type: 'lease_lost', attempt: 3 })).toEqual({ ok: false, reason: 'fenced' });
    const requeued = transition(running, { type: 'lease_lost', attempt: 2 });
    expect(requeued).toMatchObject({ ok: true, next: { state: 'queued', attempt: 2 }, effects: ['dispatch'] });
    expect(transition({ state: 'queued', risk: 'write', attempt: 2 }, { type: 'dispatched' })).toMatchObject({
      ok: true,
      next: { state: 'dispatched', attempt: 3 },
    });
  });

  it('names the effects: cancel reaches a running agent, a lost dangerous call reaches an operator', () => {
    expect(transition({ state: 'running', risk: 'read', attempt: 1 }, { type: 'cancel' })).toMatchObject({
      effects: ['send_cancel'],
    });
    expect(
      transition({ state: 'pending_approval', risk: 'destructive', attempt: 0 }, { type: 'cancel' }),
    ).toMatchObject({ effects: ['close_approval'] });
    expect(
      transition({ state: 'running', risk: 'destructive', attempt: 1 }, { type: 'lease_lost', attempt: 1 }),
    ).toMatchObject({ next: { state: 'ambiguous' }, effects: ['notify_operator'] });
    expect(
      transition({ state: 'pending_approval', risk: 'destructive', attempt: 0 }, { type: 'approved' }),
    ).toMatchObject({ effects: ['dispatch'] });
  });

  it('never leaves a final state, never lowers the attempt, and never re-runs a dangerous call (delivered dispatches ≤ 1)', () => {
    const event = fc.oneof(
      fc.constantFrom<InvocationEvent>(
        { type: 'approved' },
        { type: 'approval_rejected' },
        { type: 'approval_expired' },
        { type: 'dispatched' },
        { type: 'cancel' },
        { type: 'resolved', outcome: 'failed' },
      ),
      fc.record({ type: fc.constant('accepted' as const), attempt: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ type: fc.constant('lease_lost' as const), attempt: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ type: fc.constant('undelivered' as const), attempt: fc.integer({ min: 0, max: 4 }) }),
      fc.record({
        type: fc.constant('result' as const),
        attempt: fc.integer({ min: 0, max: 4 }),
        outcome: fc.constantFrom(...OUTCOMES),
      }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...RISKS), fc.array(event, { maxLength: 40 }), (risk, events) => {
        let current = initialState(risk);
        let dispatches = 0;
        for (const next of events) {
          const outcome = transition(current, next);
          if (!outcome.ok) continue;
          expect(FINAL_STATES.has(current.state)).toBe(false);
          expect(outcome.next.attempt).toBeGreaterThanOrEqual(current.attempt);
          // A dispatch that never left the router does not count: the agent cannot have run it.
          if (next.type === 'dispatched') dispatches += 1;
          if (next.type === 'undelivered') dispatches -= 1;
          current = outcome.next;
        }
        if (risk === 'destructive' || risk === 'irreversible') expect(dispatches).toBeLessThanOrEqual(1);
      }),
      { numRuns: 2_000 },
    );
  });
});
