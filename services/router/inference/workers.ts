import type { Lease } from '../mesh/leases.js';
import type { Queryable } from '../store/db.js';
import type { WorkerView } from './scheduler.js';

/** What the router's mesh and streams know of each agent right now. */
export interface LiveAgents {
  boundAgents(): string[];
  leaseOf(agentId: string): Lease | undefined;
  /** Streams this router has open on the agent. */
  openOn(agentId: string): number;
}

interface ManifestRow {
  readonly id: string;
  readonly models: string[] | null;
  readonly service_tiers: string[] | null;
}

/**
 * The XIM agents a project can route to from this router, as the scheduler sees them: models
 * and tiers from their manifests (read from the database, cached briefly per project: they
 * change on restarts, not per request), health and load from their live leases and this
 * router's own open streams (fresher than any renewal).
 */
export class WorkerDirectory {
  private readonly cache = new Map<string, { at: number; rows: Promise<ManifestRow[]> }>();

  constructor(private readonly db: Queryable, private readonly live: LiveAgents, private readonly ttlMs = 1_000) {}

  async views(projectId: string, now = Date.now()): Promise<WorkerView[]> {
    const bound = new Set(this.live.boundAgents());
    const rows = await this.manifests(projectId, now);
    return rows.filter((row) => bound.has(row.id)).map((row) => this.view(row));
  }

  private view(row: ManifestRow): WorkerView {
    const lease = this.live.leaseOf(row.id);
    const health = lease?.health ?? {};
    const open = this.live.openOn(row.id);
    return {
      id: row.id, models: row.models ?? [], ...(row.service_tiers ? { tiers: row.service_tiers } : {}),
      healthy: lease?.status === 'active' && health['healthy'] !== false && (lease.capacity?.max_concurrent ?? 0) > 0,
      running: Math.max(open, lease?.capacity?.in_use ?? 0), waiting: numberOr(health['waiting'], 0),
      maxConcurrent: Math.max(1, lease?.capacity?.max_concurrent ?? 1), kvUsage: numberOr(health['kv_usage'], 0),
    };
  }

  private manifests(projectId: string, now: number): Promise<ManifestRow[]> {
    const cached = this.cache.get(projectId);
    if (cached && now - cached.at < this.ttlMs) return cached.rows;
    const rows = this.db.query<ManifestRow>({
      name: 'xim_manifests',
      text: `SELECT id, ARRAY(SELECT jsonb_array_elements_text(coalesce(manifest->'models', '[]'))) AS models,
                    CASE WHEN jsonb_typeof(manifest->'service_tiers') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(manifest->'service_tiers')) END AS service_tiers
               FROM agents WHERE project_id = $1 AND role = 'xim' AND status NOT IN ('revoked', 'superseded')`,
      values: [projectId],
    }).then((result) => result.rows);
    this.cache.set(projectId, { at: now, rows });
    rows.catch(() => this.cache.delete(projectId));
    return rows;
  }
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
