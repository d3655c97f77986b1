import { Server } from 'zeromq/draft.js';
import type { FrameCodec } from '../../protocol/codec.js';
import { isProtocolError } from '../../protocol/errors.js';
import type { FrameType } from '../../protocol/frame-bodies.js';
import { makeFrame, type AnyFrame, type Frame } from '../../protocol/frame.js';
import { verifyFrame } from '../../protocol/signing.js';
import type { Logger } from '../../runtime/logger.js';
import type { Admission, AdmittedAgent } from './admission.js';
import { ConnectionTable, RecentFrames } from './connections.js';
import type { LeaseBook } from './leases.js';
import type { MeshPersistence } from './persistence.js';
import { createSendQueue } from './send-queue.js';
import { MESH_ZAP_DOMAIN } from './zap.js';

export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** Handles one verified, de-duplicated frame from a bound agent; returns the ack outcome. */
export type FrameHandler = (agent: AdmittedAgent, frame: AnyFrame) => Promise<{ status: 'ok' | 'rejected'; reason?: string; sendManifest?: boolean }>;

export interface MeshServerOptions {
  readonly bind: string;
  readonly curveSecretKey: string;
  readonly admission: Admission;
  readonly leases: LeaseBook;
  readonly persistence: MeshPersistence;
  readonly codec: FrameCodec;
  readonly logger: Logger;
  readonly leaseRenewalIntervalMs: number;
  /** Extra frame types (exec.*, infer.*) added by later subsystems. */
  readonly handlers?: Partial<Record<FrameType, FrameHandler>>;
}

export interface MeshStats {
  received: number;
  dropped: { malformed: number; unbound: number; badSignature: number; revoked: number };
  duplicates: number;
}

export interface MeshServer {
  readonly endpoint: string;
  readonly stats: MeshStats;
  readonly connections: ConnectionTable;
  send(agentId: string, frame: Frame): Promise<boolean>;
  /** Tells a connected agent its credentials are gone and forgets its connection. */
  revoke(agentId: string, reason: string): Promise<void>;
  close(): void;
}

/**
 * The router's end of the mesh: a draft ZeroMQ Server socket (the router assigns connection
 * ids, so no peer can squat another's) with CURVE and an enforced ZAP domain. Every frame is
 * size-capped, decoded with limits, schema-checked, signature-checked and de-duplicated before
 * any handler sees it; a bad frame is counted and dropped, never fatal.
 */
export async function startMeshServer(options: MeshServerOptions): Promise<MeshServer> {
  const socket = new Server({
    curveServer: true,
    curveSecretKey: options.curveSecretKey,
    zapDomain: MESH_ZAP_DOMAIN,
    zapEnforceDomain: true,
    maxMessageSize: MAX_MESSAGE_BYTES,
    heartbeatInterval: 5_000,
    heartbeatTimeout: 15_000,
    handshakeInterval: 10_000,
    sendTimeout: 0,
    linger: 0,
  });
  await socket.bind(options.bind);
  const endpoint = socket.lastEndpoint ?? options.bind;
  const state = { connections: new ConnectionTable(), recent: new RecentFrames(), stats: newStats(), lastComplaint: new Map<number, number>() };
  const send = createSendQueue((bytes: Buffer, routingId: number) => socket.send(bytes, { routingId }));
  const sendFrame = (routingId: number, frame: Frame) => send(options.codec.encode(frame), routingId);
  const context = { options, state, sendFrame };

  void (async () => {
    for await (const [message, { routingId }] of socket) await receive(context, message, routingId);
  })().catch((error: unknown) => {
    if (!socket.closed) options.logger.error({ err: error }, 'mesh receive loop failed');
  });

  return {
    endpoint,
    stats: state.stats,
    connections: state.connections,
    async send(agentId, frame) {
      const routingId = state.connections.routingOf(agentId);
      return routingId === undefined ? false : sendFrame(routingId, frame);
    },
    async revoke(agentId, reason) {
      options.admission.revoke(agentId);
      options.leases.forget(agentId);
      const routingId = state.connections.unbindAgent(agentId);
      if (routingId !== undefined) await sendFrame(routingId, makeFrame('lease.revoked', { reason }));
    },
    close: () => socket.close(),
  };
}

type Context = {
  options: MeshServerOptions;
  state: { connections: ConnectionTable; recent: RecentFrames; stats: MeshStats; lastComplaint: Map<number, number> };
  sendFrame: (routingId: number, frame: Frame) => Promise<boolean>;
};

async function receive(context: Context, message: Buffer, routingId: number): Promise<void> {
  const { options, state } = context;
  state.stats.received += 1;
  let frame: AnyFrame;
  try {
    frame = options.codec.decode(message);
  } catch (error) {
    if (!isProtocolError(error)) throw error;
    state.stats.dropped.malformed += 1;
    complain(context, routingId, { code: error.code, reason: error.message }, 'dropped a malformed mesh frame');
    return;
  }
  try {
    if (frame.type === 'hello') await onHello(context, frame, routingId);
    else await onAgentFrame(context, frame, routingId);
  } catch (error) {
    options.logger.error({ err: error, type: frame.type }, 'mesh frame handling failed');
  }
}

async function onHello(context: Context, frame: Frame<'hello'>, routingId: number): Promise<void> {
  const { options, state } = context;
  const agent = options.admission.agent(frame.body.agent_id);
  if (!agent || agent.role !== frame.body.role) {
    complain(context, routingId, { agent_id: frame.body.agent_id }, 'hello from an agent that is not admitted');
    return;
  }
  if (frame.body.nonce === undefined) {
    void context.sendFrame(routingId, makeFrame('challenge', { nonce: state.connections.challenge(routingId, agent.id) }));
    return;
  }
  if (!state.connections.expects(routingId, agent.id, frame.body.nonce) || !verifyFrame(frame, agent.signingKey)) {
    state.stats.dropped.badSignature += 1;
    complain(context, routingId, { agent_id: agent.id }, 'hello with a wrong nonce or signature: identity not proven');
    return;
  }
  state.connections.bind(routingId, agent.id);
  const renewal = options.leaseRenewalIntervalMs;
  const known = options.leases.get(agent.id)?.manifestHash ?? null;
  void context.sendFrame(routingId, makeFrame('welcome', { agent_id: agent.id, lease_renewal_interval_ms: renewal, lease_duration_ms: renewal * 3, send_manifest: known === null }));
  options.logger.info({ agent_id: agent.id }, 'agent bound to mesh connection');
}

async function onAgentFrame(context: Context, frame: AnyFrame, routingId: number): Promise<void> {
  const { options, state } = context;
  const agentId = state.connections.agentOf(routingId);
  if (agentId === undefined) {
    state.stats.dropped.unbound += 1;
    complain(context, routingId, { type: frame.type }, 'frame on a connection not bound to an agent');
    return;
  }
  const agent = options.admission.agent(agentId);
  if (!agent) {
    state.stats.dropped.revoked += 1;
    state.connections.unbind(routingId);
    void context.sendFrame(routingId, makeFrame('lease.revoked', { reason: 'credentials revoked' }));
    return;
  }
  if (!verifyFrame(frame, agent.signingKey)) {
    state.stats.dropped.badSignature += 1;
    complain(context, routingId, { agent_id: agentId, type: frame.type }, 'frame with a bad signature');
    return;
  }
  const seen = state.recent.seen(agentId, frame.id);
  if (seen !== undefined) {
    state.stats.duplicates += 1;
    void context.sendFrame(routingId, makeFrame('ack', { ack_id: frame.id, status: 'duplicate' }));
    return;
  }
  const outcome = await handle(context, agent, frame);
  state.recent.remember(agentId, frame.id, outcome.status);
  const ack = makeFrame('ack', { ack_id: frame.id, status: outcome.status, ...(outcome.reason ? { reason: outcome.reason } : {}), ...(outcome.sendManifest ? { send_manifest: true } : {}) });
  // Queued, not awaited: the send queue keeps order, and the receive loop must not wait for a
  // socket write per frame (that capped the whole mesh at one frame per event-loop turn).
  void context.sendFrame(routingId, ack);
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

// One log line per connection per 10 s: a hostile or broken peer cannot flood the log.
function complain(context: Context, routingId: number, detail: Record<string, unknown>, message: string): void {
  const now = Date.now();
  if ((context.state.lastComplaint.get(routingId) ?? 0) + 10_000 > now) return;
  context.state.lastComplaint.set(routingId, now);
  context.options.logger.warning({ ...detail, connection: routingId }, message);
}

function newStats(): MeshStats {
  return { received: 0, dropped: { malformed: 0, unbound: 0, badSignature: 0, revoked: 0 }, duplicates: 0 };
}
