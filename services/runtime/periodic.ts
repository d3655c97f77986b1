import { systemClock, type Clock, type Timer } from './clock.js';
import type { Logger } from './logger.js';

export interface PeriodicOptions {
  readonly name: string;
  readonly intervalMs: number;
  readonly run: () => Promise<unknown>;
  readonly logger: Logger;
  readonly clock?: Clock;
}

export interface Periodic {
  /** Starts ticking every interval. */
  start(): void;
  /** One round now (or the round already running): tests and shutdown flushes await it. */
  tick(): Promise<void>;
  /** Stops ticking and waits for a round in progress. */
  close(): Promise<void>;
}

/**
 * A single-flight periodic job: a round that is still running when the next is due is not
 * started twice, a failing round is logged and the next one runs anyway. Created stopped.
 */
export function createPeriodic(options: PeriodicOptions): Periodic {
  const clock = options.clock ?? systemClock;
  let running: Promise<void> | undefined;
  let timer: Timer | undefined;
  const tick = () =>
    (running ??= options
      .run()
      .then(
        () => undefined,
        (error: unknown) => options.logger.warning({ err: error, job: options.name }, `${options.name} round failed`),
      )
      .finally(() => (running = undefined)));
  return {
    start() {
      timer ??= clock.setInterval(() => void tick(), options.intervalMs);
      timer.unref();
    },
    tick,
    async close() {
      clock.clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
