import type { Clock, Timer } from '../../services/runtime/clock.js';

interface Scheduled {
  at: number;
  readonly fn: () => void;
  readonly every?: number;
}

/**
 * A clock that moves only when told: `advance(ms)` runs every timer that falls due on the way,
 * in time order (intervals again and again), letting promises settle between them. Tests of
 * resends, deadlines and leases take seconds of clock time in microseconds of real time.
 */
export class ManualClock implements Clock {
  private time: number;
  private readonly timers = new Map<Timer, Scheduled>();

  constructor(start = Date.UTC(2026, 11, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.schedule({ at: this.time + Math.max(0, ms), fn });
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.schedule({ at: this.time + Math.max(1, ms), fn, every: Math.max(1, ms) });
  }

  clearTimeout(timer: Timer | undefined): void {
    if (timer) this.timers.delete(timer);
  }

  clearInterval(timer: Timer | undefined): void {
    if (timer) this.timers.delete(timer);
  }

  /** How many timers are waiting (a closed component leaves none). */
  get pending(): number {
    return this.timers.size;
  }

  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    await settle();
    for (let next = this.nextDue(until); next; next = this.nextDue(until)) {
      const [timer, scheduled] = next;
      this.time = scheduled.at;
      if (scheduled.every === undefined) this.timers.delete(timer);
      else scheduled.at += scheduled.every;
      scheduled.fn();
      await settle();
    }
    this.time = until;
    await settle();
  }

  private schedule(scheduled: Scheduled): Timer {
    const timer: Timer = { unref: () => timer };
    this.timers.set(timer, scheduled);
    return timer;
  }

  private nextDue(until: number): [Timer, Scheduled] | undefined {
    let best: [Timer, Scheduled] | undefined;
    for (const entry of this.timers) if (entry[1].at <= until && (!best || entry[1].at < best[1].at)) best = entry;
    return best;
  }
}

/** Lets callbacks' promise chains run to their next real wait. */
async function settle(): Promise<void> {
  for (let round = 0; round < 10; round += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}
