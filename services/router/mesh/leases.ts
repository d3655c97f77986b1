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

  /** Heartbeats not yet persisted; marks them clean. */
  takeDirty(): { agentId: string; at: number }[] {
    const dirty: { agentId: string; at: number }[] = [];
    for (const lease of this.leases.values()) {
      if (!lease.dirty) continue;
      lease.dirty = false;
      dirty.push({ agentId: lease.agentId, at: lease.lastRenewal });
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
