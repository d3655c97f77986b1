/** A timer handle: what Node's timers return, and what a test clock hands out. */
export interface Timer {
  unref(): unknown;
}

/**
 * Time as a dependency. Code that decides by time (leases, deadlines, dispatch TTLs, resends,
 * backoff) takes a clock instead of reading Date.now() or calling setTimeout itself, so a test
 * can move time on purpose instead of sleeping through it.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(timer: Timer | undefined): void;
  setInterval(fn: () => void, ms: number): Timer;
  clearInterval(timer: Timer | undefined): void;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
  clearTimeout: (timer: Timer | undefined) => clearTimeout(timer as NodeJS.Timeout | undefined),
  setInterval: (fn: () => void, ms: number) => setInterval(fn, ms),
  clearInterval: (timer: Timer | undefined) => clearInterval(timer as NodeJS.Timeout | undefined),
});

/** Waits `ms` on the clock, or until the signal aborts (then resolves false): a wait a shutdown can cut short. */
export function sleep(ms: number, signal?: AbortSignal, clock: Clock = systemClock): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clock.clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
