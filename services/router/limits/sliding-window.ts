/**
 * Sliding-window counters: a window's count is the current fixed bucket plus the previous one
 * weighted by how much of it still overlaps the window. Two integers per key, no per-request
 * log, and the same arithmetic in the memory backend (here) and in Redis (the Lua script in
 * redis-limiter.ts mirrors it).
 */
export interface WindowLimit {
  /** Opaque, namespaced: `exec:project:proj_…`, `api:key:key_…`. */
  readonly key: string;
  /** Requests allowed per window; 0 means no limit. */
  readonly limit: number;
  readonly windowMs: number;
}

export interface Buckets {
  /** Start of the current bucket (a multiple of windowMs). */
  readonly start: number;
  readonly current: number;
  readonly previous: number;
}

export type LimitDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly key: string; readonly retryAfterMs: number };

/** The buckets as of `now`: rolled forward when a bucket (or two) has passed since. */
export function roll(buckets: Buckets | undefined, windowMs: number, now: number): Buckets {
  const start = now - (now % windowMs);
  if (!buckets || buckets.start <= start - 2 * windowMs) return { start, current: 0, previous: 0 };
  if (buckets.start === start) return buckets;
  return { start, current: 0, previous: buckets.current };
}

/** The weighted count in the window ending at `now`. */
export function estimate(buckets: Buckets, windowMs: number, now: number): number {
  const overlap = 1 - (now - buckets.start) / windowMs;
  return buckets.current + buckets.previous * overlap;
}

/**
 * How long until one more request fits: the previous bucket's weight decays linearly, and at
 * the next bucket boundary the current count becomes the previous one. At least one second.
 */
export function retryAfterMs(buckets: Buckets, limit: number, windowMs: number, now: number): number {
  const elapsed = now - buckets.start;
  if (buckets.current < limit && buckets.previous > 0) {
    // previous * (1 - t / W) + current + 1 <= limit  ⇒  t >= W * (1 - (limit - current - 1) / previous)
    const t = windowMs * (1 - (limit - buckets.current - 1) / buckets.previous);
    if (t < windowMs) return Math.max(1_000, Math.ceil(t - elapsed));
  }
  // Only after the next boundary, and then the current bucket (as the previous) must fade enough.
  const fadeAfterBoundary = buckets.current > 0 ? windowMs * (1 - (limit - 1) / buckets.current) : 0;
  return Math.max(1_000, Math.ceil(windowMs - elapsed + Math.max(0, fadeAfterBoundary)));
}
