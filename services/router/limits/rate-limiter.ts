import type { LimitDecision, WindowLimit } from './sliding-window.js';

/**
 * Checks several windows at once and counts the request in all of them only if every one has
 * room, so a request refused by one layer spends nothing of the others. Implementations: memory
 * (one process) and Redis (atomic Lua, shared by every router).
 */
export interface RateLimiter {
  hit(limits: readonly WindowLimit[], now?: number): Promise<LimitDecision>;
  close(): Promise<void>;
}

export const MINUTE_MS = 60_000;
