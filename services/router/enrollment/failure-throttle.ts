/**
 * Counts refused enrollments per source address in a sliding window; past the limit, the source
 * is told to wait (join-key guessing, security anchors S10). In memory, per router process: a
 * shared limit across replicas comes with the rate-limit backends.
 */
export interface FailureThrottle {
  /** Seconds to wait, or 0 when the source may try. */
  retryAfter(source: string, now?: number): number;
  recordFailure(source: string, now?: number): void;
}

export function createFailureThrottle(options: { limit: number; windowMs: number }): FailureThrottle {
  const failures = new Map<string, number[]>();
  const recent = (source: string, now: number): number[] => {
    const kept = (failures.get(source) ?? []).filter((at) => now - at < options.windowMs);
    if (kept.length === 0) failures.delete(source);
    else failures.set(source, kept);
    return kept;
  };
  return {
    retryAfter(source, now = Date.now()) {
      const kept = recent(source, now);
      if (kept.length < options.limit) return 0;
      return Math.max(1, Math.ceil((kept[0]! + options.windowMs - now) / 1_000));
    },
    recordFailure(source, now = Date.now()) {
      const kept = recent(source, now);
      kept.push(now);
      failures.set(source, kept);
      // Bound memory under a spray of sources: forget the oldest.
      if (failures.size > 10_000) failures.delete(failures.keys().next().value!);
    },
  };
}
