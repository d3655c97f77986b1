import type { RateLimiter } from './rate-limiter.js';
import { estimate, retryAfterMs, roll, type Buckets, type LimitDecision } from './sliding-window.js';

/** Windows in this process's memory: right for one router; replicas each count alone. */
export function createMemoryLimiter(): RateLimiter {
  const buckets = new Map<string, Buckets>();
  let checks = 0;
  const forgetIdle = (now: number) => {
    for (const [key, value] of buckets) if (value.start < now - 2 * 3_600_000) buckets.delete(key);
  };
  return {
    async hit(limits, now = Date.now()): Promise<LimitDecision> {
      const active = limits.filter((limit) => limit.limit > 0);
      const rolled = active.map((limit) => roll(buckets.get(limit.key), limit.windowMs, now));
      for (const [index, limit] of active.entries()) {
        const current = rolled[index]!;
        if (estimate(current, limit.windowMs, now) + 1 > limit.limit)
          return {
            allowed: false,
            key: limit.key,
            retryAfterMs: retryAfterMs(current, limit.limit, limit.windowMs, now),
          };
      }
      for (const [index, limit] of active.entries())
        buckets.set(limit.key, { ...rolled[index]!, current: rolled[index]!.current + 1 });
      if ((checks += 1) % 10_000 === 0) forgetIdle(now);
      return { allowed: true };
    },
    async close() {
      buckets.clear();
    },
  };
}
