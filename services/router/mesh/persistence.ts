import type { Logger } from '../../runtime/logger.js';
import type { Heartbeat } from './leases.js';
import { appendAudit } from '../store/audit-log.js';
import type { Pool } from '../store/pool.js';

/** What the mesh writes to Postgres; status changes are rare, heartbeats are batched. */
export interface MeshPersistence {
  statusChanged(
    agentId: string,
    projectId: string,
    status: 'active' | 'stale',
    detail?: Record<string, unknown>,
  ): Promise<void>;
  /** Renewal times, and for the fleet directory which replica holds each agent and its load. */
  heartbeats(beats: readonly Heartbeat[]): Promise<void>;
  manifest(agentId: string, hash: string, version: number, manifest: Record<string, unknown> | null): Promise<void>;
  manifestHashes(): Promise<Map<string, string>>;
  /** This replica stops: no other replica should hand it streams for the agents it held. */
  releaseHeld(): Promise<void>;
  /** Agents the database calls active, with their last heartbeat (leases to watch after a restart). */
  activeLeases(): Promise<{ agentId: string; lastHeartbeat: number }[]>;
}

/**
 * Writes never block the mesh's receive loop: status and manifest changes are queued per agent
 * (so an agent's stale→active order holds) and run in the background. Awaiting them per frame
 * once let a backlog of renewals expire leases, whose status writes then grew the backlog.
 */
/** This router replica as the fleet directory names it; its URL is known once it listens. */
export interface ReplicaIdentity {
  readonly id: string;
  url(): string | undefined;
}

export function createMeshPersistence(pool: Pool, logger: Logger, replica?: ReplicaIdentity): MeshPersistence {
  const queues = new Map<string, Promise<void>>();
  const enqueue = (agentId: string, write: () => Promise<unknown>): Promise<void> => {
    const next = (queues.get(agentId) ?? Promise.resolve()).then(write).then(
      () => undefined,
      (error: unknown) => logger.warning({ err: error, agent_id: agentId }, 'could not record an agent change'),
    );
    queues.set(agentId, next);
    void next.finally(() => queues.get(agentId) === next && queues.delete(agentId));
    return next;
  };
  const writes = rawWrites(pool, logger, replica);
  return {
    statusChanged: (agentId, projectId, status, detail) =>
      enqueue(agentId, () => writes.statusChanged(agentId, projectId, status, detail)),
    manifest: (agentId, hash, version, manifest) =>
      enqueue(agentId, () => writes.manifest(agentId, hash, version, manifest)),
    heartbeats: (beats) => writes.heartbeats(beats),
    releaseHeld: () => writes.releaseHeld(),
    activeLeases: () => writes.activeLeases(),
    manifestHashes: () => writes.manifestHashes(),
  };
}

function rawWrites(pool: Pool, logger: Logger, replica: ReplicaIdentity | undefined): MeshPersistence {
  return {
    async statusChanged(agentId, projectId, status, detail = {}) {
      // Going stale also needs the stored heartbeat to be old: another router may hold the lease.
      const updated = await pool.query(
        `UPDATE agents SET status = $2 WHERE id = $1 AND status NOT IN ('revoked', 'superseded') AND status <> $2
            AND ($2 = 'active' OR last_heartbeat IS NULL OR last_heartbeat < now() - make_interval(secs => $3::float8 / 1000))`,
        [agentId, status, status === 'stale' ? Number(detail['timeout_ms'] ?? 0) : 0],
      );
      if (updated.rowCount === 1)
        await appendAudit(pool, {
          projectId,
          actor: 'router',
          event: status === 'active' ? 'agent.lease_active' : 'agent.lease_stale',
          subject: agentId,
          detail,
        });
    },
    async heartbeats(beats) {
      if (beats.length === 0) return;
      await pool
        .query(
          `UPDATE agents SET last_heartbeat = beats.at, held_by = $4, held_by_url = $5, lease_load = beats.load
           FROM (SELECT unnest($1::text[]) AS id, to_timestamp(unnest($2::float8[]) / 1000.0) AS at,
                        unnest($3::jsonb[]) AS load) AS beats
          WHERE agents.id = beats.id AND (agents.last_heartbeat IS NULL OR agents.last_heartbeat <= beats.at)`,
          [
            beats.map((beat) => beat.agentId),
            beats.map((beat) => beat.at),
            beats.map((beat) => JSON.stringify(beat.load)),
            replica?.id ?? null,
            replica?.url() ?? null,
          ],
        )
        .catch((error: unknown) => logger.warning({ err: error }, 'could not record heartbeats'));
    },
    async releaseHeld() {
      if (!replica) return;
      await pool
        .query('UPDATE agents SET held_by_url = NULL WHERE held_by = $1', [replica.id])
        .catch((error: unknown) => logger.warning({ err: error }, 'could not release the agents this replica held'));
    },
    async manifest(agentId, hash, version, manifest) {
      await pool.query(
        'UPDATE agents SET manifest_hash = $2, manifest_version = $3, manifest = coalesce($4, manifest) WHERE id = $1',
        [agentId, hash, version, manifest],
      );
    },
    async activeLeases() {
      const rows = await pool.query<{ id: string; last_heartbeat: Date | null; enrolled_at: Date }>(
        "SELECT id, last_heartbeat, enrolled_at FROM agents WHERE status = 'active'",
      );
      return rows.rows.map((row) => ({
        agentId: row.id,
        lastHeartbeat: (row.last_heartbeat ?? row.enrolled_at).getTime(),
      }));
    },
    async manifestHashes() {
      const rows = await pool.query<{ id: string; manifest_hash: string }>(
        "SELECT id, manifest_hash FROM agents WHERE manifest_hash IS NOT NULL AND status NOT IN ('revoked', 'superseded')",
      );
      return new Map(rows.rows.map((row) => [row.id, row.manifest_hash]));
    },
  };
}
