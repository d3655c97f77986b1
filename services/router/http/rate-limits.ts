import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { apiKeyWindow, invocationWindows, layerOf, type ExecRateLimits } from '../limits/exec-limits.js';
import type { RateLimiter } from '../limits/rate-limiter.js';
import type { LimitDecision, WindowLimit } from '../limits/sliding-window.js';
import { ApiError } from './errors.js';

export interface RateLimitSettings {
  readonly limiter: RateLimiter;
  /** XEROTIER_API_RATE_LIMIT_RPM: requests per minute per API key (0: none). */
  readonly apiKeyRpm: number;
  readonly exec: ExecRateLimits;
}

async function enforce(limiter: RateLimiter, windows: readonly WindowLimit[], what: string): Promise<void> {
  const decision: LimitDecision = await limiter.hit(windows);
  if (decision.allowed) return;
  const limit = windows.find((window) => window.key === decision.key)!;
  throw ApiError.rateLimited(
    Math.ceil(decision.retryAfterMs / 1_000),
    `Too many ${what} for this ${layerOf(decision.key)}: at most ${limit.limit} a minute`,
  );
}

/** Per API key, on every authenticated surface; runs after the key is known. */
export function limitApiKeys(settings: RateLimitSettings): preHandlerAsyncHookHandler {
  return async (request) => {
    if (request.principal)
      await enforce(settings.limiter, [apiKeyWindow(settings.apiKeyRpm, request.principal.keyId)], 'requests');
  };
}

/** The project, workspace and global windows a new invocation must fit in. */
export function admitInvocations(settings: RateLimitSettings) {
  const admit = admitCalls(settings);
  return (_request: FastifyRequest, target: { projectId: string; workspaceId: string }) => admit(target);
}

/** The same limits for calls that come from no HTTP request of their own (the model's, in a turn). */
export function admitCalls(settings: RateLimitSettings) {
  return (target: { projectId: string; workspaceId: string }) =>
    enforce(settings.limiter, invocationWindows(settings.exec, target), 'invocations');
}
