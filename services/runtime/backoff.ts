export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Share of each delay that is random (0: none, 1: "full jitter"). @default 0.5 */
  readonly jitter?: number;
}

/**
 * The delay before retry `attempt` (0-based): doubling from the initial delay up to the cap, with
 * part of it random, so many clients that failed together do not come back together. Pure.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  const jitter = policy.jitter ?? 0.5;
  return Math.round(base * (1 - jitter) + base * jitter * random());
}
