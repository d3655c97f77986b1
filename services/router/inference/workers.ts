import type { Lease } from '../mesh/leases.js';
import { ximManifests, type XimManifest } from '../store/agents.js';
import type { Queryable } from '../store/db.js';
import { ExpiringCache } from './expiring-cache.js';
import type { WorkerView } from './scheduler.js';

/** What the router's mesh and streams know of each agent right now. */
export interface LiveAgents {
  boundAgents(): string[];
  leaseOf(agentId: string): Lease | undefined;
  /** Streams this router has open on the agent. */
  openOn(agentId: string): number;
}

/**
 * The XIM agents a project can route to from this router, as the scheduler sees them: models
 * and tiers from their manifests (read from the database, cached briefly per project: they
 * change on restarts, not per request), health and load from their live leases and this
 * router's own open streams (fresher than any renewal).
 */
export class WorkerDirectory {
  private readonly cache: ExpiringCache<XimManifest[]>;

  constructor(
    private readonly db: Queryable,
    private readonly live: LiveAgents,
    ttlMs = 1_000,
  ) {
    this.cache = new ExpiringCache(ttlMs);
  }

  async views(projectId: string, now = Date.now()): Promise<WorkerView[]> {
    const bound = new Set(this.live.boundAgents());
    const rows = await this.manifests(projectId, now);
    return rows.filter((row) => bound.has(row.id)).map((row) => this.view(row));
  }

  private view(row: XimManifest): WorkerView {
    const lease = this.live.leaseOf(row.id);
    const health = lease?.health ?? {};
    const open = this.live.openOn(row.id);
    return {
      id: row.id,
      models: row.models ?? [],
      ...(row.service_tiers ? { tiers: row.service_tiers } : {}),
      healthy: lease?.status === 'active' && health['healthy'] !== false && (lease.capacity?.max_concurrent ?? 0) > 0,
      running: Math.max(open, lease?.capacity?.in_use ?? 0),
      waiting: numberOr(health['waiting'], 0),
      maxConcurrent: Math.max(1, lease?.capacity?.max_concurrent ?? 1),
      kvUsage: numberOr(health['kv_usage'], 0),
    };
  }

  private manifests(projectId: string, now: number): Promise<XimManifest[]> {
    return this.cache.get(projectId, () => ximManifests(this.db, projectId), now);
  }
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
