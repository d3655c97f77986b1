import type { FrameCodec } from '../../protocol/codec.js';
import { isProtocolError, ProtocolError, ProtocolErrorCode } from '../../protocol/errors.js';
import type { FrameType } from '../../protocol/frame-bodies.js';
import { makeFrame, type AnyFrame, type Frame } from '../../protocol/frame.js';
import { verifyFrame } from '../../protocol/signing.js';
import type { Clock } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/logger.js';
import type { Admission, AdmittedAgent } from './admission.js';
import { ConnectionTable, RecentFrames, type RoutingKey } from './connections.js';
import { startMeshGateway, type MeshGateway } from './gateway.js';
import { onHello } from './handshake.js';
import { Lanes } from './lanes.js';
import type { LeaseBook } from './leases.js';
import type { MeshPersistence } from './persistence.js';
import type { ZapHandler } from './zap.js';

export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** Handles one verified, de-duplicated frame from a bound agent; returns the ack outcome. */
export type FrameHandler = (
  agent: AdmittedAgent,
  frame: AnyFrame,
) => Promise<{ status: 'ok' | 'rejected'; reason?: string; sendManifest?: boolean }>;

export interface MeshServerOptions {
  readonly bind: string;
  readonly curveSecretKey: string;
  readonly admission: Admission;
  readonly zap: ZapHandler;
  readonly leases: LeaseBook;
  readonly persistence: MeshPersistence;
  readonly codec: FrameCodec;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly leaseRenewalIntervalMs: number;
  /** Frame types (exec.*, infer.*) handled by the router's subsystems. */
  readonly handlers?: Partial<Record<FrameType, FrameHandler>>;
  /** Off only in tests that prove the router outlives an aborted gateway. @default true */
  readonly scrambleAutoIds?: boolean;
  /** Shared by the servers of one mesh during a key rotation, so a frame resent on the new connection is not handled twice. */
  readonly recent?: RecentFrames;
}

export interface MeshStats {
  received: number;
  dropped: { malformed: number; unbound: number; badSignature: number; foreignRoutingId: number; revoked: number };
  duplicates: number;
  /** Times the gateway process died and was restarted. */
  gatewayRestarts: number;
}

export interface MeshServer {
  /** The bound endpoint (a `*` port resolved); the configured one before start. */
  readonly endpoint: string;
  readonly stats: MeshStats;
  readonly connections: ConnectionTable;
  /** Binds the socket (in its gateway process). `bind` overrides the configured endpoint (a restart on the same port). */
  start(bind?: string): Promise<void>;
  /** False when the agent has no bound connection here (or the server is not started). */
  send(agentId: string, frame: Frame): Promise<boolean>;
  /** Tells a connected agent its credentials are gone and forgets its connection. */
  revoke(agentId: string, reason: string): Promise<void>;
  close(): Promise<void>;
}

type State = {
  connections: ConnectionTable;
  recent: RecentFrames;
  stats: MeshStats;
  lastComplaint: Map<RoutingKey, number>;
  handling: Set<string>;
};
type Context = {
  options: MeshServerOptions;
  state: State;
  lanes: Lanes;
  sendFrame: (routing: RoutingKey, frame: Frame) => boolean;
};

/**
 * The router's end of the mesh. The CURVE ROUTER socket lives in a gateway child process
 * (gateway.ts) that only moves bytes, so a libzmq abort costs a reconnect, not the router.
 * Routing ids are the peers' own and bind nothing (routing-id.ts). Every frame is size-capped,
 * decoded with limits, schema-checked, signature-checked and de-duplicated here before any
 * handler sees it; a bad frame is counted and dropped, never fatal. Nothing runs until start().
 */
export function createMeshServer(options: MeshServerOptions): MeshServer {
  const state: State = {
    connections: new ConnectionTable(),
    recent: options.recent ?? new RecentFrames(),
    stats: newStats(),
    lastComplaint: new Map(),
    handling: new Set(),
  };
  let gateway: MeshGateway | undefined;
  let housekeeping: ReturnType<Clock['setInterval']> | undefined;
  const sendFrame = (routing: RoutingKey, frame: Frame) => gateway?.send(routing, options.codec.encode(frame)) ?? false;
  const context: Context = { options, state, sendFrame, lanes: new Lanes() };
  // Decoded, verified and de-duplicated one at a time, in arrival order; exec frames are then
  // handled in per-invocation lanes (lanes.ts), so an agent's progress never overtakes its own
  // result while different invocations' database writes overlap.
  let inbound: Promise<void> = Promise.resolve();
  return {
    get endpoint() {
      return gateway?.endpoint ?? options.bind;
    },
    stats: state.stats,
    get connections() {
      return state.connections;
    },
    async start(bind) {
      gateway = await startMeshGateway({
        bind: bind ?? options.bind,
        curveSecretKey: options.curveSecretKey,
        maxMessageBytes: MAX_MESSAGE_BYTES,
        logger: options.logger,
        ...(options.scrambleAutoIds === undefined ? {} : { scrambleAutoIds: options.scrambleAutoIds }),
        decide: (keyHex, address) => options.zap.decide(keyHex, address),
        onMessage(routing, parts, payload) {
          inbound = inbound
            .then(() => receive(context, routing, parts, payload))
            .catch((error: unknown) => options.logger.error({ err: error }, 'mesh frame handling failed'));
        },
        // A peer the gateway could not reach is gone: forget its binding (it says hello when back).
        onUnreachable: (routing) => state.connections.unbind(routing),
        onRestart() {
          state.stats.gatewayRestarts += 1;
          state.connections = new ConnectionTable();
        },
      });
      housekeeping = options.clock.setInterval(() => {
        state.connections.expirePending(options.clock.now());
        state.lastComplaint.clear();
      }, 10_000);
      housekeeping.unref();
    },
    async send(agentId, frame) {
      const routing = state.connections.routingOf(agentId);
      return routing === undefined ? false : sendFrame(routing, frame);
    },
    async revoke(agentId, reason) {
      options.admission.revoke(agentId);
      options.leases.forget(agentId);
      const routing = state.connections.unbindAgent(agentId);
      if (routing !== undefined) sendFrame(routing, makeFrame('lease.revoked', { reason }));
    },
    async close() {
      options.clock.clearInterval(housekeeping);
      await gateway?.close();
      gateway = undefined;
      state.connections = new ConnectionTable();
    },
  };
}

async function receive(context: Context, routing: RoutingKey, parts: number, payload: Buffer): Promise<void> {
  const { options, state } = context;
  state.stats.received += 1;
  let frame: AnyFrame;
  try {
    // Agents send one frame per message; a multipart message is a peer not speaking the protocol.
    if (parts !== 1)
      throw new ProtocolError(ProtocolErrorCode.malformedFrame, `expected one message part, got ${parts}`);
    frame = options.codec.decode(payload);
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    state.stats.dropped.malformed += 1;
    complain(context, routing, { code: error.code, reason: error.message }, 'dropped a malformed mesh frame');
    return;
  }
  try {
    if (frame.type === 'hello') hello(context, frame, routing);
    else await onAgentFrame(context, frame, routing);
  } catch (error) {
    options.logger.error({ err: error, type: frame.type }, 'mesh frame handling failed');
  }
}

function hello(context: Context, frame: Frame<'hello'>, routing: RoutingKey): void {
  const { options, state } = context;
  const outcome = onHello(
    {
      admission: options.admission,
      connections: state.connections,
      leaseRenewalIntervalMs: options.leaseRenewalIntervalMs,
      knownManifest: (id) => options.leases.get(id)?.manifestHash ?? null,
      send: context.sendFrame,
      now: () => options.clock.now(),
    },
    frame,
    routing,
  );
  if (outcome.result === 'bound') options.logger.info({ agent_id: outcome.agentId }, 'agent bound to mesh connection');
  else if (outcome.result === 'not_admitted')
    complain(context, routing, { agent_id: outcome.agentId }, 'hello from an agent that is not admitted');
  else if (outcome.result === 'foreign_routing_id') {
    state.stats.dropped.foreignRoutingId += 1;
    complain(
      context,
      routing,
      { agent_id: outcome.agentId },
      'hello on a connection whose routing id was not chosen for that agent',
    );
  } else if (outcome.result === 'identity_not_proven') {
    state.stats.dropped.badSignature += 1;
    complain(
      context,
      routing,
      { agent_id: outcome.agentId },
      'hello with a wrong nonce or signature: identity not proven',
    );
  }
}

async function onAgentFrame(context: Context, frame: AnyFrame, routing: RoutingKey): Promise<void> {
  const { options, state } = context;
  const agentId = state.connections.agentOf(routing);
  if (agentId === undefined) {
    state.stats.dropped.unbound += 1;
    complain(context, routing, { type: frame.type }, 'frame on a connection not bound to an agent');
    return;
  }
  const agent = options.admission.agent(agentId);
  if (!agent) {
    state.stats.dropped.revoked += 1;
    state.connections.unbind(routing);
    void context.sendFrame(routing, makeFrame('lease.revoked', { reason: 'credentials revoked' }));
    return;
  }
  if (!verifyFrame(frame, agent.signingKey)) {
    state.stats.dropped.badSignature += 1;
    complain(context, routing, { agent_id: agentId, type: frame.type }, 'frame with a bad signature');
    return;
  }
  if (state.recent.seen(agentId, frame.id) !== undefined) {
    state.stats.duplicates += 1;
    void context.sendFrame(routing, makeFrame('ack', { ack_id: frame.id, status: 'duplicate' }));
    return;
  }
  const lane = laneOf(agentId, frame);
  if (lane === undefined) return answer(context, routing, agentId, frame, await handle(context, agent, frame));
  // A resend of a frame still being handled is dropped: the agent sends it again later and is
  // then told it was a duplicate.
  const key = `${agentId}/${frame.id}`;
  if (state.handling.has(key)) return;
  state.handling.add(key);
  context.lanes.run(lane, async () => {
    try {
      answer(context, routing, agentId, frame, await handle(context, agent, frame));
    } catch (error) {
      options.logger.error({ err: error, type: frame.type }, 'mesh frame handling failed');
    } finally {
      state.handling.delete(key);
    }
  });
  await context.lanes.room();
}

function answer(
  context: Context,
  routing: RoutingKey,
  agentId: string,
  frame: AnyFrame,
  outcome: Awaited<ReturnType<FrameHandler>>,
): void {
  context.state.recent.remember(agentId, frame.id, outcome.status);
  const ack = makeFrame('ack', {
    ack_id: frame.id,
    status: outcome.status,
    ...(outcome.reason ? { reason: outcome.reason } : {}),
    ...(outcome.sendManifest ? { send_manifest: true } : {}),
  });
  // Queued, not awaited: the send queue keeps order, and the receive loop must not wait for a
  // socket write per frame (that capped the whole mesh at one frame per event-loop turn).
  void context.sendFrame(routing, ack);
}

/** Frames about one invocation share a lane (their order matters); others are handled inline. */
function laneOf(agentId: string, frame: AnyFrame): string | undefined {
  const body = frame.body as { invocation_id?: unknown };
  return frame.type.startsWith('exec.') && typeof body.invocation_id === 'string'
    ? `${agentId}/${body.invocation_id}`
    : undefined;
}

async function handle(context: Context, agent: AdmittedAgent, frame: AnyFrame): ReturnType<FrameHandler> {
  if (frame.type === 'lease_renewal') return renewLease(context, agent, frame);
  const handler = context.options.handlers?.[frame.type];
  return handler
    ? handler(agent, frame)
    : { status: 'rejected', reason: `${frame.type} is not handled by this router` };
}

async function renewLease(
  context: Context,
  agent: AdmittedAgent,
  frame: Frame<'lease_renewal'>,
): ReturnType<FrameHandler> {
  const { leases, persistence, clock } = context.options;
  const outcome = leases.renew(agent.id, frame.body, clock.now());
  if (outcome.becameActive) void persistence.statusChanged(agent.id, agent.projectId, 'active');
  if (outcome.manifestChanged)
    void persistence.manifest(
      agent.id,
      frame.body.manifest_hash,
      frame.body.manifest_version,
      frame.body.manifest ?? null,
    );
  return { status: 'ok', sendManifest: outcome.needManifest };
}

// One log line per connection per 10 s: a hostile or broken peer cannot flood the log. The
// routing id is not logged: an agent's id is its only defence against being squatted.
function complain(context: Context, routing: RoutingKey, detail: Record<string, unknown>, message: string): void {
  const now = context.options.clock.now();
  if ((context.state.lastComplaint.get(routing) ?? 0) + 10_000 > now) return;
  context.state.lastComplaint.set(routing, now);
  context.options.logger.warning(detail, message);
}

function newStats(): MeshStats {
  return {
    received: 0,
    dropped: { malformed: 0, unbound: 0, badSignature: 0, foreignRoutingId: 0, revoked: 0 },
    duplicates: 0,
    gatewayRestarts: 0,
  };
}
