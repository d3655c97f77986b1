import type { FrameCodec } from '../../protocol/codec.js';
import { isProtocolError, ProtocolError, ProtocolErrorCode } from '../../protocol/errors.js';
import type { FrameType } from '../../protocol/frame-bodies.js';
import { makeFrame, type AnyFrame, type Frame } from '../../protocol/frame.js';
import { routingIdSpeaksFor } from '../../protocol/routing-id.js';
import { verifyFrame } from '../../protocol/signing.js';
import type { Logger } from '../../runtime/logger.js';
import type { Admission, AdmittedAgent } from './admission.js';
import { ConnectionTable, RecentFrames, type RoutingKey } from './connections.js';
import type { LeaseBook } from './leases.js';
import type { MeshPersistence } from './persistence.js';
import { startMeshGateway } from './gateway.js';
import { Lanes } from './lanes.js';
import type { ZapHandler } from './zap.js';

export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** Handles one verified, de-duplicated frame from a bound agent; returns the ack outcome. */
export type FrameHandler = (agent: AdmittedAgent, frame: AnyFrame) => Promise<{ status: 'ok' | 'rejected'; reason?: string; sendManifest?: boolean }>;

export interface MeshServerOptions {
  readonly bind: string;
  readonly curveSecretKey: string;
  readonly admission: Admission;
  readonly zap: ZapHandler;
  readonly leases: LeaseBook;
  readonly persistence: MeshPersistence;
  readonly codec: FrameCodec;
  readonly logger: Logger;
  readonly leaseRenewalIntervalMs: number;
  /** Extra frame types (exec.*, infer.*) added by later subsystems. */
  readonly handlers?: Partial<Record<FrameType, FrameHandler>>;
  /** Off only in tests that prove the router outlives an aborted gateway. @default true */
  readonly scrambleAutoIds?: boolean;
}

export interface MeshStats {
  received: number;
  dropped: { malformed: number; unbound: number; badSignature: number; foreignRoutingId: number; revoked: number };
  duplicates: number;
  /** Times the gateway process died and was restarted. */
  gatewayRestarts: number;
}

export interface MeshServer {
  readonly endpoint: string;
  readonly stats: MeshStats;
  readonly connections: ConnectionTable;
  send(agentId: string, frame: Frame): Promise<boolean>;
  /** Tells a connected agent its credentials are gone and forgets its connection. */
  revoke(agentId: string, reason: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The router's end of the mesh. The CURVE ROUTER socket lives in a gateway child process
 * (gateway.ts) that only moves bytes, so a libzmq abort costs a reconnect, not the router.
 * Routing ids are the peers' own and bind nothing (routing-id.ts). Every frame is size-capped,
 * decoded with limits, schema-checked, signature-checked and de-duplicated here before any
 * handler sees it; a bad frame is counted and dropped, never fatal.
 */
export async function startMeshServer(options: MeshServerOptions): Promise<MeshServer> {
  const state = { connections: new ConnectionTable(), recent: new RecentFrames(), stats: newStats(), lastComplaint: new Map<RoutingKey, number>(), handling: new Set<string>() };
  // Frames go out through the gateway once it is up; until then there is nobody to send to.
  const link: { send?: (routing: RoutingKey, bytes: Buffer) => boolean } = {};
  const sendFrame = (routing: RoutingKey, frame: Frame) => link.send?.(routing, options.codec.encode(frame)) ?? false;
  const context: Context = { options, state, sendFrame, lanes: new Lanes() };
  // Decoded, verified and de-duplicated one at a time, in arrival order; exec frames are then
  // handled in per-invocation lanes (lanes.ts), so an agent's progress never overtakes its own
  // result while different invocations' database writes overlap.
  let inbound: Promise<void> = Promise.resolve();
  const gateway = await startMeshGateway({
    bind: options.bind, curveSecretKey: options.curveSecretKey, maxMessageBytes: MAX_MESSAGE_BYTES, logger: options.logger,
    ...(options.scrambleAutoIds === undefined ? {} : { scrambleAutoIds: options.scrambleAutoIds }),
    decide: (keyHex, address) => options.zap.decide(keyHex, address),
    onMessage(routing, parts, payload) {
      inbound = inbound.then(() => receive(context, routing, parts, payload)).catch((error: unknown) => options.logger.error({ err: error }, 'mesh frame handling failed'));
    },
    // A peer the gateway could not reach is gone: forget its binding (it says hello when back).
    onUnreachable: (routing) => state.connections.unbind(routing),
    onRestart() {
      state.stats.gatewayRestarts += 1;
      state.connections = new ConnectionTable();
    },
  });
  link.send = (routing, bytes) => gateway.send(routing, bytes);
  const housekeeping = setInterval(() => {
    state.connections.expirePending(Date.now());
    state.lastComplaint.clear();
  }, 10_000);
  housekeeping.unref();

  return {
    get endpoint() {
      return gateway.endpoint;
    },
    stats: state.stats,
    get connections() {
      return state.connections;
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
      clearInterval(housekeeping);
      await gateway.close();
    },
  };
}

type Context = {
  options: MeshServerOptions;
  state: { connections: ConnectionTable; recent: RecentFrames; stats: MeshStats; lastComplaint: Map<RoutingKey, number>; handling: Set<string> };
  lanes: Lanes;
  sendFrame: (routing: RoutingKey, frame: Frame) => boolean;
};

async function receive(context: Context, routing: RoutingKey, parts: number, payload: Buffer): Promise<void> {
  const { options, state } = context;
  state.stats.received += 1;
  let frame: AnyFrame;
  try {
    // Agents send one frame per message; a multipart message is a peer not speaking the protocol.
    if (parts !== 1) throw new ProtocolError(ProtocolErrorCode.malformedFrame, `expected one message part, got ${parts}`);
    frame = options.codec.decode(payload);
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    state.stats.dropped.malformed += 1;
    complain(context, routing, { code: error.code, reason: error.message }, 'dropped a malformed mesh frame');
    return;
  }
  try {
    if (frame.type === 'hello') await onHello(context, frame, routing);
    else await onAgentFrame(context, frame, routing);
  } catch (error) {
    options.logger.error({ err: error, type: frame.type }, 'mesh frame handling failed');
  }
}

async function onHello(context: Context, frame: Frame<'hello'>, routing: RoutingKey): Promise<void> {
  const { options, state } = context;
  const agent = options.admission.agent(frame.body.agent_id);
  if (!agent || agent.role !== frame.body.role) {
    complain(context, routing, { agent_id: frame.body.agent_id }, 'hello from an agent that is not admitted');
    return;
  }
  if (!routingIdSpeaksFor(routing, agent.id)) {
    state.stats.dropped.foreignRoutingId += 1;
    complain(context, routing, { agent_id: agent.id }, 'hello on a connection whose routing id was not chosen for that agent');
    return;
  }
  if (frame.body.nonce === undefined) {
    void context.sendFrame(routing, makeFrame('challenge', { nonce: state.connections.challenge(routing, agent.id) }));
    return;
  }
  if (!state.connections.expects(routing, agent.id, frame.body.nonce) || !verifyFrame(frame, agent.signingKey)) {
    state.stats.dropped.badSignature += 1;
    complain(context, routing, { agent_id: agent.id }, 'hello with a wrong nonce or signature: identity not proven');
    return;
  }
  state.connections.bind(routing, agent.id);
  const renewal = options.leaseRenewalIntervalMs;
  const known = options.leases.get(agent.id)?.manifestHash ?? null;
  void context.sendFrame(routing, makeFrame('welcome', { agent_id: agent.id, lease_renewal_interval_ms: renewal, lease_duration_ms: renewal * 3, send_manifest: known === null }));
  options.logger.info({ agent_id: agent.id }, 'agent bound to mesh connection');
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
  const seen = state.recent.seen(agentId, frame.id);
  if (seen !== undefined) {
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

function answer(context: Context, routing: RoutingKey, agentId: string, frame: AnyFrame, outcome: Awaited<ReturnType<FrameHandler>>): void {
  context.state.recent.remember(agentId, frame.id, outcome.status);
  const ack = makeFrame('ack', { ack_id: frame.id, status: outcome.status, ...(outcome.reason ? { reason: outcome.reason } : {}), ...(outcome.sendManifest ? { send_manifest: true } : {}) });
  // Queued, not awaited: the send queue keeps order, and the receive loop must not wait for a
  // socket write per frame (that capped the whole mesh at one frame per event-loop turn).
  void context.sendFrame(routing, ack);
}

/** Frames about one invocation share a lane (their order matters); others are handled inline. */
function laneOf(agentId: string, frame: AnyFrame): string | undefined {
  const body = frame.body as { invocation_id?: unknown };
  return frame.type.startsWith('exec.') && typeof body.invocation_id === 'string' ? `${agentId}/${body.invocation_id}` : undefined;
}

async function handle(context: Context, agent: AdmittedAgent, frame: AnyFrame): ReturnType<FrameHandler> {
  if (frame.type === 'lease_renewal') return renewLease(context, agent, frame);
  const handler = context.options.handlers?.[frame.type];
  return handler ? handler(agent, frame) : { status: 'rejected', reason: `${frame.type} is not handled by this router` };
}

async function renewLease(context: Context, agent: AdmittedAgent, frame: Frame<'lease_renewal'>): ReturnType<FrameHandler> {
  const { leases, persistence } = context.options;
  const outcome = leases.renew(agent.id, frame.body, Date.now());
  if (outcome.becameActive) void persistence.statusChanged(agent.id, agent.projectId, 'active');
  if (outcome.manifestChanged) void persistence.manifest(agent.id, frame.body.manifest_hash, frame.body.manifest_version, frame.body.manifest ?? null);
  return { status: 'ok', sendManifest: outcome.needManifest };
}

// One log line per connection per 10 s: a hostile or broken peer cannot flood the log. The
// routing id is not logged: an agent's id is its only defence against being squatted.
function complain(context: Context, routing: RoutingKey, detail: Record<string, unknown>, message: string): void {
  const now = Date.now();
  if ((context.state.lastComplaint.get(routing) ?? 0) + 10_000 > now) return;
  context.state.lastComplaint.set(routing, now);
  context.options.logger.warning(detail, message);
}

function newStats(): MeshStats {
  return { received: 0, dropped: { malformed: 0, unbound: 0, badSignature: 0, foreignRoutingId: 0, revoked: 0 }, duplicates: 0, gatewayRestarts: 0 };
}
