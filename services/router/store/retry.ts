import { sleep, systemClock, type Clock } from '../../runtime/clock.js';
import { backoffDelay } from '../../runtime/backoff.js';

/**
 * SQLSTATEs after which the same transaction may simply run again: serialization failures and
 * deadlocks are Postgres choosing a victim, not the work being wrong (graphile-worker's table).
 */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(['40001', '40P01']);

export function isRetryable(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && RETRYABLE_SQLSTATES.has((error as { code?: string }).code ?? '')
  );
}

export interface RetryOptions {
  /** @default 5 */
  readonly attempts?: number;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  readonly random?: () => number;
}

/** Runs `work` again (with jittered backoff, 20 ms up to 1 s) when it fails retryably; other errors pass through. */
export async function withRetry<T>(work: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (!isRetryable(error) || attempt + 1 >= attempts || options.signal?.aborted) throw error;
      await sleep(
        backoffDelay(attempt, { initialMs: 20, maxMs: 1_000 }, options.random),
        options.signal,
        options.clock ?? systemClock,
      );
    }
  }
}
