import { createFrameCodec } from '../../protocol/codec.js';
import type { FrameType } from '../../protocol/frame-bodies.js';
import { makeFrame, type Frame } from '../../protocol/frame.js';
import { systemClock, type Clock, type Timer } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/logger.js';
import { agentStatuses, findAgentById, listAdmissibleAgents } from '../store/agents.js';
import type { Listener } from '../store/listener.js';
import type { Pool } from '../store/pool.js';
import { listenForAgentChanges, RETIRED_BECAUSE, type AgentChange } from './agent-changes.js';
import { createAdmission, type Admission, type AgentKeys } from './admission.js';
import { HandshakeBudget, type HandshakeBudgetOptions } from './handshake-budget.js';
import { LeaseBook, type Lease } from './leases.js';
import { createMeshPersistence, type MeshPersistence, type ReplicaIdentity } from './persistence.js';
import { RecentFrames } from './connections.js';
import { createMeshServer, type FrameHandler, type MeshServer } from './server.js';
import { createZapHandler, type ZapHandler } from './zap.js';

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
  readonly clock?: Clock;
  /** Who this router is in the fleet directory (heartbeats name it as the agents' holder). */
  readonly replica?: ReplicaIdentity;
  /** A CURVE key rotation: the next key on its own endpoint, served beside the current one. */
  readonly next?: { readonly bind: string; readonly curveSecretKey: string };
}

export interface Mesh {
  readonly server: MeshServer;
  /** The server holding the next CURVE key during a rotation. */
  readonly nextServer: MeshServer | undefined;
  readonly zap: ZapHandler;
  /** Loads who may connect, binds the socket, starts the lease timers. May follow a close() (a restart on the same endpoint). */
  start(): Promise<void>;
  /** Admit a just-enrolled agent before its enrollment response leaves. */
  agentEnrolled(keys: AgentKeys, superseded: readonly string[]): void;
  agentRevoked(agentId: string): void;
  /** Agents whose connection this router holds and whose lease is live here. */
  boundAgents(): string[];
  /**
   * Tells the project's agents still on the current key to move to the next (`curve.rotate`):
   * they fetch its public half and endpoint over HTTPS and reconnect. Returns how many were told.
   */
  rotateCurve(projectId: string, rotationId: string): number;
  /** Execution slots the agent's last lease renewal reported. */
  capacityOf(agentId: string): number | undefined;
  /** The agent's lease as this router holds it (capacity, engine health). */
  leaseOf(agentId: string): Lease | undefined;
  send(agentId: string, frame: Frame): Promise<boolean>;
  close(): Promise<void>;
}

interface Parts {
  readonly admission: Admission;
  readonly leases: LeaseBook;
  readonly persistence: MeshPersistence;
  readonly servers: readonly MeshServer[];
  readonly clock: Clock;
}

/**
 * The mesh: admission (from the database, kept in memory for ZAP), the CURVE socket, leases and
 * the LISTEN connection that carries other routers' enrollments and revocations. Built without
 * I/O; start() loads and binds.
 */
export function createMesh(options: MeshOptions): Mesh {
  const clock = options.clock ?? systemClock;
  const admission = createAdmission();
  const persistence = createMeshPersistence(options.pool, options.logger, options.replica);
  const known = new Map<string, string>();
  const leases = new LeaseBook((agentId) => known.get(agentId) ?? null);
  const zap = createZapHandler(admission, new HandshakeBudget(options.handshakeBudget), options.logger, () =>
    clock.now(),
  );
  const recent = new RecentFrames();
  const serverOn = (bind: string, curveSecretKey: string) =>
    createMeshServer({
      bind,
      curveSecretKey,
      recent,
      admission,
      zap,
      leases,
      persistence,
      logger: options.logger,
      clock,
      ...(options.scrambleAutoIds === undefined ? {} : { scrambleAutoIds: options.scrambleAutoIds }),
      codec: createFrameCodec(),
      leaseRenewalIntervalMs: options.leaseRenewalIntervalMs,
      ...(options.handlers ? { handlers: options.handlers } : {}),
    });
  const server = serverOn(options.bind, options.curveSecretKey);
  const nextServer = options.next ? serverOn(options.next.bind, options.next.curveSecretKey) : undefined;
  // The next key's server first: an agent that moved speaks there, whatever it left behind.
  const servers = nextServer ? [nextServer, server] : [server];
  const parts: Parts = { admission, leases, persistence, servers, clock };
  let timers: Timer[] = [];
  let listener: Listener | undefined;
  let boundEndpoints: (string | undefined)[] = [];
  const revokeEverywhere = (agentId: string, reason: string) =>
    Promise.all(servers.map((each) => each.revoke(agentId, reason))).then(() => undefined);
  return {
    server,
    nextServer,
    zap,
    async start() {
      zap.open();
      admission.replaceAll(await listAdmissibleAgents(options.pool));
      for (const [id, hash] of await persistence.manifestHashes()) known.set(id, hash);
      for (const lease of await persistence.activeLeases()) leases.adopt(lease.agentId, lease.lastHeartbeat);
      for (const [index, each] of servers.entries()) await each.start(boundEndpoints[index]);
      boundEndpoints = servers.map((each) => each.endpoint);
      timers = startTimers(options, parts);
      listener = options.databaseUrl
        ? listenForAgentChanges(options.databaseUrl, options.logger, {
            onChange: (change) => void applyChange(options, parts, change),
            onRotate: (rotation) => rotateOn(parts, rotation.project_id, rotation.rotation_id),
            onResync: () => void refreshFromDatabase(options, parts),
          })
        : undefined;
      options.logger.info(
        { endpoint: server.endpoint, next_endpoint: nextServer?.endpoint, admitted: admission.size },
        'mesh listening',
      );
    },
    agentEnrolled(keys, superseded) {
      for (const old of superseded) void revokeEverywhere(old, RETIRED_BECAUSE.superseded);
      admission.admit(keys);
    },
    agentRevoked: (agentId) => {
      void revokeEverywhere(agentId, RETIRED_BECAUSE.revoked);
      options.onAgentLost?.(agentId);
    },
    // A binding outlives a connection that left quietly (ZeroMQ does not tell); a lease does not,
    // so an agent that moved to another replica (or went away) stops counting as held here.
    boundAgents: () =>
      [...new Set(servers.flatMap((each) => each.connections.boundAgents()))].filter(
        (agentId) => leases.get(agentId)?.status === 'active',
      ),
    rotateCurve: (projectId, rotationId) => rotateOn(parts, projectId, rotationId),
    capacityOf: (agentId) => leases.get(agentId)?.capacity?.max_concurrent,
    leaseOf: (agentId) => leases.get(agentId),
    async send(agentId, frame) {
      for (const each of servers)
        if (each.connections.routingOf(agentId) !== undefined) return each.send(agentId, frame);
      return false;
    },
    async close() {
      for (const timer of timers) clock.clearInterval(timer);
      timers = [];
      await listener?.close();
      listener = undefined;
      await persistence.heartbeats(leases.takeDirty());
      await persistence.releaseHeld();
      zap.close();
      for (const each of servers) await each.close();
    },
  };
}

function startTimers(options: MeshOptions, parts: Parts): Timer[] {
  const { admission, leases, persistence, clock } = parts;
  const sweep = clock.setInterval(() => {
    for (const agentId of leases.sweep(clock.now(), options.heartbeatTimeoutMs)) {
      const agent = admission.agent(agentId);
      options.logger.notice({ agent_id: agentId }, 'agent lease expired: stale');
      options.onAgentLost?.(agentId);
      if (agent)
        void persistence.statusChanged(agentId, agent.projectId, 'stale', { timeout_ms: options.heartbeatTimeoutMs });
    }
  }, 250);
  const flush = clock.setInterval(() => void persistence.heartbeats(leases.takeDirty()), 1_000);
  // A safety net under LISTEN/NOTIFY: whatever a lost notification missed is caught here.
  const refresh = clock.setInterval(() => void refreshFromDatabase(options, parts), options.refreshIntervalMs ?? 5_000);
  for (const timer of [sweep, flush, refresh]) timer.unref();
  return [sweep, flush, refresh];
}

async function refreshFromDatabase(options: MeshOptions, { admission, servers }: Parts): Promise<void> {
  try {
    const dropped = admission.replaceAll(await listAdmissibleAgents(options.pool));
    if (dropped.length === 0) return;
    const statuses = await agentStatuses(options.pool, dropped);
    for (const id of dropped)
      for (const server of servers)
        await server.revoke(
          id,
          statuses.get(id) === 'superseded' ? RETIRED_BECAUSE.superseded : RETIRED_BECAUSE.revoked,
        );
  } catch (error) {
    options.logger.warning({ err: error }, 'could not refresh mesh admission');
  }
}

async function applyChange(options: MeshOptions, { admission, servers }: Parts, change: AgentChange): Promise<void> {
  if (change.change !== 'enrolled') {
    if (admission.agent(change.agent_id))
      for (const server of servers) await server.revoke(change.agent_id, RETIRED_BECAUSE[change.change]);
    return;
  }
  const agent = await findAgentById(options.pool, change.agent_id).catch(() => undefined);
  if (agent && agent.status !== 'revoked' && agent.status !== 'superseded') admission.admit(agent);
}

/** `curve.rotate` to the project's agents bound on the current key only (those on the next one have moved). */
function rotateOn({ admission, servers }: Parts, projectId: string, rotationId: string): number {
  const [next, current] = servers;
  if (!next || !current) return 0;
  let told = 0;
  for (const agentId of current.connections.boundAgents()) {
    if (admission.agent(agentId)?.projectId !== projectId || next.connections.routingOf(agentId) !== undefined)
      continue;
    void current.send(
      agentId,
      makeFrame('curve.rotate', { rotation_id: rotationId, reason: 'the router is moving to its next CURVE key' }),
    );
    told += 1;
  }
  return told;
}
