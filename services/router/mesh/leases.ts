import type { FrameBody } from '../../protocol/frame-bodies.js';

export type LeaseStatus = 'active' | 'stale';

export interface Lease {
  readonly agentId: string;
  status: LeaseStatus;
  lastRenewal: number;
  manifestHash: string | null;
  manifestVersion: number | null;
  capacity: { max_concurrent: number; in_use: number } | null;
  inFlight: readonly { invocation_id: string; attempt: number }[];
  /** What the agent last said of its engine (XIM: healthy, running, waiting, kv_usage). */
  health: Readonly<Record<string, unknown>> | null;
  /** last_heartbeat not yet written to the database. */
  dirty: boolean;
}

/** What other replicas route by: the agent's load as its last renewal said (fleet directory). */
export interface LeaseLoad {
  readonly healthy: boolean;
  readonly in_use: number;
  readonly max_concurrent: number;
  readonly waiting: number;
  readonly kv_usage: number;
}

export interface Heartbeat {
  readonly agentId: string;
  readonly at: number;
  readonly load: LeaseLoad;
}

export interface RenewalOutcome {
  readonly becameActive: boolean;
  /** The agent's manifest hash differs from the one on record and no manifest came with it. */
  readonly needManifest: boolean;
  readonly manifestChanged: boolean;
}

/**
 * Lease bookkeeping, pure and in memory: renewals move agents to active, a sweep past the
 * heartbeat timeout moves them to stale. The caller persists what changed.
 */
export class LeaseBook {
  private readonly leases = new Map<string, Lease>();

  constructor(private readonly knownManifest: (agentId: string) => string | null = () => null) {}

  renew(agentId: string, body: FrameBody<'lease_renewal'>, now: number): RenewalOutcome {
    const previous = this.leases.get(agentId);
    const recorded = previous?.manifestHash ?? this.knownManifest(agentId);
    const manifestChanged = body.manifest !== undefined && body.manifest_hash !== recorded;
    const lease: Lease = {
      agentId,
      status: 'active',
      lastRenewal: now,
      dirty: true,
      manifestHash: body.manifest !== undefined || body.manifest_hash === recorded ? body.manifest_hash : recorded,
      manifestVersion: body.manifest_version,
      capacity: body.capacity,
      inFlight: body.in_flight,
      health: body.health ?? null,
    };
    this.leases.set(agentId, lease);
    return {
      becameActive: previous?.status !== 'active',
      needManifest: body.manifest === undefined && body.manifest_hash !== recorded,
      manifestChanged,
    };
  }

  /** An agent the database calls active but no renewal reached this process yet (after a restart). */
  adopt(agentId: string, lastRenewal: number): void {
    if (this.leases.has(agentId)) return;
    this.leases.set(agentId, {
      agentId,
      status: 'active',
      lastRenewal,
      manifestHash: this.knownManifest(agentId),
      manifestVersion: null,
      capacity: null,
      inFlight: [],
      health: null,
      dirty: false,
    });
  }

  /** Agents whose last renewal is older than timeoutMs and that were active. */
  sweep(now: number, timeoutMs: number): string[] {
    const stale: string[] = [];
    for (const lease of this.leases.values()) {
      if (lease.status === 'active' && now - lease.lastRenewal > timeoutMs) {
        lease.status = 'stale';
        stale.push(lease.agentId);
      }
    }
    return stale;
  }

  /** Heartbeats not yet persisted, with the load each renewal reported; marks them clean. */
  takeDirty(): Heartbeat[] {
    const dirty: Heartbeat[] = [];
    for (const lease of this.leases.values()) {
      if (!lease.dirty) continue;
      lease.dirty = false;
      dirty.push({ agentId: lease.agentId, at: lease.lastRenewal, load: leaseLoad(lease) });
    }
    return dirty;
  }

  get(agentId: string): Lease | undefined {
    return this.leases.get(agentId);
  }

  forget(agentId: string): void {
    this.leases.delete(agentId);
  }
}

/** The load a lease reports, as the scheduler and the fleet directory read it. */
export function leaseLoad(lease: Lease): LeaseLoad {
  const health = lease.health ?? {};
  const number = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  return {
    healthy: lease.status === 'active' && health['healthy'] !== false && (lease.capacity?.max_concurrent ?? 0) > 0,
    in_use: lease.capacity?.in_use ?? 0,
    max_concurrent: lease.capacity?.max_concurrent ?? 0,
    waiting: number(health['waiting']),
    kv_usage: number(health['kv_usage']),
  };
}
