import { Redis } from 'ioredis';
import type { Logger } from '../../runtime/logger.js';
import type { RateLimiter } from './rate-limiter.js';
import { retryAfterMs, type LimitDecision } from './sliding-window.js';

// The memory backend's arithmetic (sliding-window.ts), run atomically inside Redis: every
// window is checked first and counted only if all have room. One hash per key (s: bucket
// start, c: current, p: previous), expiring two windows after its last use.
const HIT_SCRIPT = `
local now = tonumber(ARGV[1])
local rolled = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i]); local w = tonumber(ARGV[2 * i + 1])
  local start = now - (now % w)
  local h = redis.call('HMGET', KEYS[i], 's', 'c', 'p')
  local s = tonumber(h[1]); local c = tonumber(h[2]) or 0; local p = tonumber(h[3]) or 0
  if (not s) or s <= start - 2 * w then c = 0; p = 0 elseif s ~= start then p = c; c = 0 end
  if c + p * (1 - (now - start) / w) + 1 > limit then return {0, i, start, c, p} end
  rolled[i] = {start, c, p, w}
end
for i = 1, #KEYS do
  local r = rolled[i]
  redis.call('HSET', KEYS[i], 's', r[1], 'c', r[2] + 1, 'p', r[3])
  redis.call('PEXPIRE', KEYS[i], 2 * r[4] + 1000)
end
return {1}
`;

interface HitCommand {
  slidingHit(numberOfKeys: number, ...args: (string | number)[]): Promise<number[]>;
}

/** Windows shared by every router through one Redis; `prefix` keeps deployments apart. */
export function createRedisLimiter(url: string, logger: Logger, prefix = 'xerotier:rl:'): RateLimiter {
  const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true });
  redis.on('error', (error: Error) =>
    logger.warning({ err: { message: error.message } }, 'rate-limit Redis connection problem'),
  );
  redis.defineCommand('slidingHit', { lua: HIT_SCRIPT });
  const command = redis as unknown as HitCommand;
  return {
    async hit(limits, now = Date.now()): Promise<LimitDecision> {
      const active = limits.filter((limit) => limit.limit > 0);
      if (active.length === 0) return { allowed: true };
      const args = active.flatMap((limit) => [limit.limit, limit.windowMs]);
      const answer = await command.slidingHit(
        active.length,
        ...active.map((limit) => prefix + limit.key),
        now,
        ...args,
      );
      if (answer[0] === 1) return { allowed: true };
      const [, index, start, current, previous] = answer as [number, number, number, number, number];
      const limit = active[index - 1]!;
      return {
        allowed: false,
        key: limit.key,
        retryAfterMs: retryAfterMs({ start, current, previous }, limit.limit, limit.windowMs, now),
      };
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
