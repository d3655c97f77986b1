import { leaseLoad, type Lease, type LeaseLoad } from '../mesh/leases.js';
import { ximManifests, type XimManifest } from '../store/agents.js';
import type { Queryable } from '../store/db.js';
import { ExpiringCache } from './expiring-cache.js';
import type { WorkerView } from './scheduler.js';

/** What the router's mesh and streams know of each agent right now. */
export interface LiveAgents {
  boundAgents(): string[];
  leaseOf(agentId: string): Lease | undefined;
  /** Streams this router has open on the agent (its own and, for remote agents, those it forwarded). */
  openOn(agentId: string): number;
  /** Requests placed on the agent since `at`, by any replica (placement-log.ts). */
  placedSince(agentId: string, at: number): number;
}

/** Where this router stands in the fleet: agents other replicas hold are candidates too. */
export interface FleetView {
  readonly replicaId: string;
  /** Where the others reach this replica: a row naming it is this process's predecessor's, not another replica's. */
  url?(): string | undefined;
  /** A heartbeat older than this means the holder lost the agent (the mesh's own timeout). */
  readonly heartbeatTimeoutMs: number;
}

/**
 * The XIM agents a project can route to, as the scheduler sees them: models and tiers from
 * their manifests (read from the database, cached briefly per project: they change on restarts,
 * not per request). Agents this router holds take health from their live leases and load from
 * its own open streams (exact, and fresher than any renewal); agents another replica holds take
 * both from the heartbeat that replica wrote (up to a renewal and a second old), plus whatever
 * any replica placed there since (own placements and heard ones), and carry its address (`via`) so the stream is handed there.
 */
export class WorkerDirectory {
  private readonly cache: ExpiringCache<HeldManifest[]>;

  constructor(
    private readonly db: Queryable,
    private readonly live: LiveAgents,
    private readonly fleet?: FleetView,
    ttlMs = 1_000,
  ) {
    this.cache = new ExpiringCache(ttlMs);
  }

  async views(projectId: string, now = Date.now()): Promise<WorkerView[]> {
    const bound = new Set(this.live.boundAgents());
    const rows = await this.manifests(projectId, now);
    const views: WorkerView[] = [];
    for (const row of rows) {
      // A binding outlives a connection that left quietly (ZeroMQ does not say); the lease does not.
      const lease = bound.has(row.id) ? this.live.leaseOf(row.id) : undefined;
      if (lease?.status === 'active') views.push(this.local(row, lease));
      else if (this.heldElsewhere(row)) views.push(this.remote(row));
    }
    return views;
  }

  private local(row: XimManifest, lease: Lease): WorkerView {
    // Exact: every stream on an agent opens through the replica holding it, forwarded ones too.
    // The agent's own count lags a renewal, and a stale high one would shut out its cached prefixes.
    return fromLoad(row, leaseLoad(lease), this.live.openOn(row.id));
  }

  private heldElsewhere(row: XimManifest): boolean {
    if (!this.fleet || row.status !== 'active' || !row.held_by_url || !row.lease_load) return false;
    // Ours and gone, or a predecessor's at our own address: not held anywhere reachable now.
    if (row.held_by === this.fleet.replicaId || row.held_by_url === this.fleet.url?.()) return false;
    return row.heartbeat_age_ms !== null && row.heartbeat_age_ms < this.fleet.heartbeatTimeoutMs;
  }

  private remote(row: HeldManifest): WorkerView {
    const load = row.lease_load as Partial<LeaseLoad>;
    const since = numberOr(load.in_use, 0) + this.live.placedSince(row.id, row.heartbeatAt);
    return { ...fromLoad(row, load, Math.max(this.live.openOn(row.id), since)), via: row.held_by_url! };
  }

  private manifests(projectId: string, now: number): Promise<HeldManifest[]> {
    return this.cache.get(
      projectId,
      async () => {
        const read = Date.now();
        return (await ximManifests(this.db, projectId)).map((row) => ({
          ...row,
          heartbeatAt: read - (row.heartbeat_age_ms ?? Number.POSITIVE_INFINITY),
        }));
      },
      now,
    );
  }
}

/** A manifest row with the time of the heartbeat it carries (the load it reports is as of then). */
type HeldManifest = XimManifest & { readonly heartbeatAt: number };

/** The scheduler's view of an agent from its manifest and a load report (its lease's, or a heartbeat's). */
function fromLoad(row: XimManifest, load: Partial<LeaseLoad>, running: number): WorkerView {
  return {
    id: row.id,
    models: row.models ?? [],
    ...(row.service_tiers ? { tiers: row.service_tiers } : {}),
    healthy: load.healthy === true,
    running,
    waiting: numberOr(load.waiting, 0),
    maxConcurrent: Math.max(1, numberOr(load.max_concurrent, 1)),
    kvUsage: numberOr(load.kv_usage, 0),
  };
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
