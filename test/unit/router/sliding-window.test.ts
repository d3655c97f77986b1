import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryLimiter } from '../../../services/router/limits/memory-limiter.js';
import { estimate, retryAfterMs, roll } from '../../../services/router/limits/sliding-window.js';

const W = 60_000;

describe('sliding-window arithmetic', () => {
  it('rolls buckets forward and weights the previous one by its overlap', () => {
    const start = 10 * W;
    expect(roll(undefined, W, start + 5)).toEqual({ start, current: 0, previous: 0 });
    expect(roll({ start, current: 7, previous: 3 }, W, start + 10)).toEqual({ start, current: 7, previous: 3 });
    expect(roll({ start, current: 7, previous: 3 }, W, start + W + 1)).toEqual({
      start: start + W,
      current: 0,
      previous: 7,
    });
    expect(roll({ start, current: 7, previous: 3 }, W, start + 2 * W)).toEqual({
      start: start + 2 * W,
      current: 0,
      previous: 0,
    });
    expect(estimate({ start, current: 2, previous: 10 }, W, start + W / 4)).toBe(2 + 7.5);
  });

  it('a refused request fits once its retry-after has passed (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 3_000 }), { minLength: 1, maxLength: 300 }),
        async (limit, gaps) => {
          const limiter = createMemoryLimiter();
          const window = [{ key: 'k', limit, windowMs: W }];
          let now = 1_000 * W;
          for (const gap of gaps) {
            now += gap;
            const decision = await limiter.hit(window, now);
            if (decision.allowed) continue;
            expect(decision.retryAfterMs).toBeGreaterThanOrEqual(1_000);
            expect((await limiter.hit(window, now + decision.retryAfterMs)).allowed).toBe(true);
            return;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never lets more than twice the limit through in any window, and never refuses below the limit', async () => {
    const limiter = createMemoryLimiter();
    const window = [{ key: 'k', limit: 100, windowMs: W }];
    const allowedAt: number[] = [];
    for (let t = 0; t < 5 * W; t += 137) if ((await limiter.hit(window, 1_000 * W + t)).allowed) allowedAt.push(t);
    for (const t of allowedAt)
      expect(allowedAt.filter((other) => other > t - W && other <= t).length).toBeLessThanOrEqual(200);
    expect(allowedAt.filter((t) => t < W).length).toBe(100);
  });

  it('retry-after never goes below a second, even for tiny remainders', () => {
    expect(retryAfterMs({ start: 0, current: 0, previous: 10 }, 10, W, 5_999)).toBe(1_000);
    // Full now and full before: past the boundary, and then until this bucket's weight fades by one.
    expect(retryAfterMs({ start: 0, current: 5, previous: 5 }, 5, W, W - 1)).toBe(1 + W / 5);
  });
});
