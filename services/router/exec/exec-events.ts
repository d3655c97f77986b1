import type { Queryable } from '../store/db.js';
import { notifyAll } from '../store/listener.js';
import type { InvocationState } from './invocation-state.js';

/** Everything that happens to invocations, as every router hears it (Postgres NOTIFY). */
export const EXEC_EVENTS_CHANNEL = 'xerotier_exec_events';
/** "There is queued work": wakes every router's dispatcher. */
export const EXEC_QUEUE_CHANNEL = 'xerotier_exec_queue';
/** Orders for whichever router holds an agent's connection (cancel a running call). */
export const EXEC_CONTROL_CHANNEL = 'xerotier_exec_control';

export type ExecEvent =
  | {
      kind: 'state';
      project_id: string;
      invocation_id: string;
      state: InvocationState;
      attempt: number;
      agent_id: string | null;
      at: string;
    }
  | {
      kind: 'progress';
      project_id: string;
      invocation_id: string;
      attempt: number;
      stream: 'stdout' | 'stderr' | 'status';
      data: string;
    }
  | {
      kind: 'approval';
      project_id: string;
      invocation_id: string;
      approval_id: string;
      state: string;
      stage: number;
      at: string;
    };

export interface ControlOrder {
  readonly action: 'cancel';
  readonly agent_id: string;
  readonly invocation_id: string;
  readonly attempt: number;
}

// NOTIFY payloads stop at 8000 bytes; JSON escaping can grow a character sixfold.
const PROGRESS_PIECE_CHARS = 1_000;

export async function publishExecEvents(db: Queryable, events: readonly ExecEvent[]): Promise<void> {
  await notifyAll(
    db,
    EXEC_EVENTS_CHANNEL,
    events.flatMap(splitProgress).map((event) => JSON.stringify(event)),
  );
}

function splitProgress(event: ExecEvent): ExecEvent[] {
  if (event.kind !== 'progress' || event.data.length <= PROGRESS_PIECE_CHARS) return [event];
  const pieces: ExecEvent[] = [];
  const chars = [...event.data];
  for (let at = 0; at < chars.length; at += PROGRESS_PIECE_CHARS)
    pieces.push({ ...event, data: chars.slice(at, at + PROGRESS_PIECE_CHARS).join('') });
  return pieces;
}

type Subscriber = (event: ExecEvent) => void;

/**
 * Fans events heard on the LISTEN connection out to this process's SSE streams, by project and
 * optionally by invocation. Holds nothing but subscriptions.
 */
export class ExecEventHub {
  private readonly subscribers = new Map<string, Set<Subscriber>>();

  subscribe(projectId: string, invocationId: string | null, subscriber: Subscriber): () => void {
    const key = `${projectId}/${invocationId ?? '*'}`;
    let set = this.subscribers.get(key);
    if (!set) this.subscribers.set(key, (set = new Set()));
    set.add(subscriber);
    return () => {
      set.delete(subscriber);
      if (set.size === 0) this.subscribers.delete(key);
    };
  }

  /** Every project's events (the loop's resumer, which serves them all). */
  subscribeAll(subscriber: Subscriber): () => void {
    return this.subscribe('*', null, subscriber);
  }

  deliver(payload: string): void {
    const event = parseEvent(payload);
    if (!event) return;
    for (const key of [`${event.project_id}/${event.invocation_id}`, `${event.project_id}/*`, '*/*']) {
      for (const subscriber of this.subscribers.get(key) ?? []) subscriber(event);
    }
  }

  get size(): number {
    return this.subscribers.size;
  }
}

function parseEvent(payload: string): ExecEvent | undefined {
  try {
    const event = JSON.parse(payload) as Partial<ExecEvent>;
    if (
      typeof event.project_id === 'string' &&
      typeof event.invocation_id === 'string' &&
      typeof event.kind === 'string'
    )
      return event as ExecEvent;
  } catch {
    // not ours
  }
  return undefined;
}

export function parseControlOrder(payload: string): ControlOrder | undefined {
  try {
    const order = JSON.parse(payload) as Partial<ControlOrder>;
    if (
      order.action === 'cancel' &&
      typeof order.agent_id === 'string' &&
      typeof order.invocation_id === 'string' &&
      typeof order.attempt === 'number'
    )
      return order as ControlOrder;
  } catch {
    // not ours
  }
  return undefined;
}
