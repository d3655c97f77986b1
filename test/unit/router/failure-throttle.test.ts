import { describe, expect, it } from 'vitest';
import { createFailureThrottle } from '../../../services/router/enrollment/failure-throttle.js';

describe('enrollment failure throttle', () => {
  it('lets an address fail up to the limit within the window, then says how long to wait', () => {
    const throttle = createFailureThrottle({ limit: 2, windowMs: 60_000 });
    throttle.recordFailure('a', 0);
    expect(throttle.retryAfter('a', 1_000)).toBe(0);
    throttle.recordFailure('a', 10_000);
    expect(throttle.retryAfter('a', 20_000)).toBe(40);
    expect(throttle.retryAfter('b', 20_000)).toBe(0);
  });

  it('forgets failures older than the window', () => {
    const throttle = createFailureThrottle({ limit: 1, windowMs: 1_000 });
    throttle.recordFailure('a', 0);
    expect(throttle.retryAfter('a', 500)).toBe(1);
    expect(throttle.retryAfter('a', 1_001)).toBe(0);
  });
});
