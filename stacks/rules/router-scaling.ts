import { ROUTER_REPLICA_LIMIT } from './platform.js';

export interface RouterScaling {
  readonly replicas: number;
  readonly maxReplicas: number;
  /** An HPA owns the replica count (the Deployment does not set it). */
  readonly autoscale: boolean;
}

/**
 * How many routers run, clamped to what the platform supports (ROUTER_REPLICA_LIMIT). The
 * settings refuse more before this runs; the clamp is the second line. Pure; the limit is a
 * parameter for tests.
 */
export function routerScaling(
  router: { readonly replicas: number; readonly maxReplicas: number },
  limit = ROUTER_REPLICA_LIMIT,
): RouterScaling {
  const replicas = Math.min(router.replicas, limit);
  const maxReplicas = Math.max(replicas, Math.min(router.maxReplicas, limit));
  return { replicas, maxReplicas, autoscale: maxReplicas > replicas };
}
