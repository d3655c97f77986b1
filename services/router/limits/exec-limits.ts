import { MINUTE_MS } from './rate-limiter.js';
import type { WindowLimit } from './sliding-window.js';

/** Invocations per minute at each layer; 0 turns a layer off. */
export interface ExecRateLimits {
  readonly global: number;
  readonly project: number;
  readonly workspace: number;
  readonly agent: number;
}

/** The windows a new invocation must fit in (the agent layer applies at dispatch). */
export function invocationWindows(
  limits: ExecRateLimits,
  target: { projectId: string; workspaceId: string },
): WindowLimit[] {
  return [
    { key: 'exec:global', limit: limits.global, windowMs: MINUTE_MS },
    { key: `exec:project:${target.projectId}`, limit: limits.project, windowMs: MINUTE_MS },
    { key: `exec:workspace:${target.workspaceId}`, limit: limits.workspace, windowMs: MINUTE_MS },
  ];
}

export function agentWindow(perMinute: number, agentId: string): WindowLimit {
  return { key: `exec:agent:${agentId}`, limit: perMinute, windowMs: MINUTE_MS };
}

export function apiKeyWindow(requestsPerMinute: number, keyId: string): WindowLimit {
  return { key: `api:key:${keyId}`, limit: requestsPerMinute, windowMs: MINUTE_MS };
}

/** Which layer a refused window key belongs to, for the error message. */
export function layerOf(key: string): string {
  const [, layer] = key.split(':');
  return layer === 'key' ? 'API key' : (layer ?? 'global');
}
