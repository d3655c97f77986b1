import { createFrameCodec } from '../../protocol/codec.js';
import type { Logger } from '../../runtime/logger.js';
import { agentStatuses, findAgentById, listAdmissibleAgents } from '../store/agents.js';
import type { Pool } from '../store/pool.js';
import { listenForAgentChanges, RETIRED_BECAUSE, type AgentChange } from './agent-changes.js';
import { createAdmission, type Admission, type AgentKeys } from './admission.js';
import { LeaseBook, type Lease } from './leases.js';
import { HandshakeBudget, type HandshakeBudgetOptions } from './handshake-budget.js';
import { createMeshPersistence } from './persistence.js';
import { startMeshServer, type FrameHandler, type MeshServer } from './server.js';
import { createZapHandler, type ZapHandler } from './zap.js';
import type { FrameType } from '../../protocol/frame-bodies.js';

export interface MeshOptions {
  readonly pool: Pool;
  readonly logger: Logger;
  readonly bind: string;
  readonly curveSecretKey: string;
  readonly leaseRenewalIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  /** How often the admission list is re-read (other routers may enroll or revoke). @default 5000 */
  readonly refreshIntervalMs?: number;
  readonly handlers?: Partial<Record<FrameType, FrameHandler>>;
  readonly handshakeBudget?: HandshakeBudgetOptions;
  /** Where to LISTEN for other routers' enrollments and revocations; none when unset. */
  readonly databaseUrl?: string;
  /** An agent's lease went stale or its credentials were revoked: whatever it was streaming is lost. */
  readonly onAgentLost?: (agentId: string) => void;
  /** Off only in tests that prove the router outlives an aborted gateway. @default true */
  readonly scrambleAutoIds?: boolean;
}

export interface Mesh {
  readonly server: MeshServer;
  readonly zap: ZapHandler;
  /** Admit a just-enrolled agent before its enrollment response leaves. */
  agentEnrolled(keys: AgentKeys, superseded: readonly string[]): void;
  agentRevoked(agentId: string): void;
  /** Agents whose connection this router holds. */
  boundAgents(): string[];
  /** Execution slots the agent's last lease renewal reported. */
  capacityOf(agentId: string): number | undefined;
  /** The agent's lease as this router holds it (capacity, engine health). */
  leaseOf(agentId: string): Lease | undefined;
  close(): Promise<void>;
}

/** Starts the mesh: admission from the database, the ZAP handler, the socket, lease timers. */
export async function startMesh(options: MeshOptions): Promise<Mesh> {
  const admission = createAdmission();
  admission.replaceAll(await listAdmissibleAgents(options.pool));
  const persistence = createMeshPersistence(options.pool, options.logger);
  const known = await persistence.manifestHashes();
  const leases = new LeaseBook((agentId) => known.get(agentId) ?? null);
  for (const lease of await persistence.activeLeases()) leases.adopt(lease.agentId, lease.lastHeartbeat);
  const zap = createZapHandler(admission, new HandshakeBudget(options.handshakeBudget), options.logger);
  const server = await startMeshServer({
    bind: options.bind, curveSecretKey: options.curveSecretKey, admission, zap, leases, persistence, logger: options.logger,
    ...(options.scrambleAutoIds === undefined ? {} : { scrambleAutoIds: options.scrambleAutoIds }),
    codec: createFrameCodec(), leaseRenewalIntervalMs: options.leaseRenewalIntervalMs, ...(options.handlers ? { handlers: options.handlers } : {}),
  });
  const timers = startTimers(options, { admission, leases, persistence, server });
  const refreshAdmission = () => refreshFromDatabase(options, admission, server);
  const listener = options.databaseUrl
    ? listenForAgentChanges(options.databaseUrl, options.logger, {
        onChange: (change) => void applyChange(options, admission, server, change),
        onResync: () => void refreshAdmission(),
      })
    : undefined;
  options.logger.info({ endpoint: server.endpoint, admitted: admission.size }, 'mesh listening');
  return {
    server,
    zap,
    agentEnrolled(keys, superseded) {
      for (const old of superseded) void server.revoke(old, RETIRED_BECAUSE.superseded);
      admission.admit(keys);
    },
    agentRevoked: (agentId) => {
      void server.revoke(agentId, RETIRED_BECAUSE.revoked);
      options.onAgentLost?.(agentId);
    },
    boundAgents: () => server.connections.boundAgents(),
    capacityOf: (agentId) => leases.get(agentId)?.capacity?.max_concurrent,
    leaseOf: (agentId) => leases.get(agentId),
    async close() {
      for (const timer of timers) clearInterval(timer);
      await listener?.close();
      await persistence.heartbeats(leases.takeDirty());
      zap.close();
      await server.close();
    },
  };
}

function startTimers(
  options: MeshOptions,
  parts: { admission: ReturnType<typeof createAdmission>; leases: LeaseBook; persistence: ReturnType<typeof createMeshPersistence>; server: MeshServer },
): NodeJS.Timeout[] {
  const { admission, leases, persistence, server } = parts;
  const sweep = setInterval(() => {
    for (const agentId of leases.sweep(Date.now(), options.heartbeatTimeoutMs)) {
      const agent = admission.agent(agentId);
      options.logger.notice({ agent_id: agentId }, 'agent lease expired: stale');
      options.onAgentLost?.(agentId);
      if (agent) void persistence.statusChanged(agentId, agent.projectId, 'stale', { timeout_ms: options.heartbeatTimeoutMs });
    }
  }, 250);
  const flush = setInterval(() => void persistence.heartbeats(leases.takeDirty()), 1_000);
  // A safety net under LISTEN/NOTIFY: whatever a lost notification missed is caught here.
  const refresh = setInterval(() => void refreshFromDatabase(options, admission, server), options.refreshIntervalMs ?? 5_000);
  for (const timer of [sweep, flush, refresh]) timer.unref();
  return [sweep, flush, refresh];
}

async function refreshFromDatabase(options: MeshOptions, admission: Admission, server: MeshServer): Promise<void> {
  try {
    const dropped = admission.replaceAll(await listAdmissibleAgents(options.pool));
    if (dropped.length === 0) return;
    const statuses = await agentStatuses(options.pool, dropped);
    for (const id of dropped) await server.revoke(id, statuses.get(id) === 'superseded' ? RETIRED_BECAUSE.superseded : RETIRED_BECAUSE.revoked);
  } catch (error) {
    options.logger.warning({ err: error }, 'could not refresh mesh admission');
  }
}

async function applyChange(options: MeshOptions, admission: Admission, server: MeshServer, change: AgentChange): Promise<void> {
  if (change.change !== 'enrolled') {
    if (admission.agent(change.agent_id)) await server.revoke(change.agent_id, RETIRED_BECAUSE[change.change]);
    return;
  }
  const agent = await findAgentById(options.pool, change.agent_id).catch(() => undefined);
  if (agent && agent.status !== 'revoked' && agent.status !== 'superseded') admission.admit(agent);
}
