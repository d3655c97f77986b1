import type { ResponseEvent } from '../inference/responses-stream.js';

type Follower = { readonly onEvent: (event: ResponseEvent) => void; readonly onEnd: () => void };

/**
 * The events of one response while it runs in this process, for clients that replay its stream
 * (`GET …/responses/:id?stream=true&starting_after=N`) and follow it live. Holds every event
 * from the first (a resumed response starts with its stored ones), so any sequence number can
 * be replayed; once it ends the stored row has the same events.
 */
export class ResponseLog {
  readonly events: ResponseEvent[];
  private readonly followers = new Set<Follower>();
  private ended = false;

  constructor(
    readonly projectId: string,
    prior: readonly ResponseEvent[],
    private readonly onEnded: () => void,
  ) {
    this.events = [...prior];
  }

  push(events: readonly ResponseEvent[]): void {
    for (const event of events) {
      this.events.push(event);
      for (const follower of this.followers) follower.onEvent(event);
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    for (const follower of this.followers) follower.onEnd();
    this.followers.clear();
    this.onEnded();
  }

  /** Every event after `after` (a sequence number; -1 for all), then each new one, then `onEnd`. */
  follow(after: number, onEvent: Follower['onEvent'], onEnd: Follower['onEnd']): () => void {
    for (const event of this.events) if (event.sequence_number > after) onEvent(event);
    if (this.ended) {
      onEnd();
      return () => undefined;
    }
    const follower = { onEvent, onEnd };
    this.followers.add(follower);
    return () => this.followers.delete(follower);
  }
}

/** The responses running in this router process, by id. */
export class LiveResponses {
  private readonly running = new Map<string, ResponseLog>();

  open(projectId: string, id: string, prior: readonly ResponseEvent[] = []): ResponseLog {
    const log = new ResponseLog(projectId, prior, () => {
      if (this.running.get(id) === log) this.running.delete(id);
    });
    this.running.set(id, log);
    return log;
  }

  /** Only the caller's project's: another project's response reads as not running here. */
  find(projectId: string, id: string): ResponseLog | undefined {
    const log = this.running.get(id);
    return log?.projectId === projectId ? log : undefined;
  }

  get size(): number {
    return this.running.size;
  }
}
