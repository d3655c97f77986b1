import { Dealer } from 'zeromq';
import type { FrameCodec } from '../protocol/codec.js';
import type { CurveKeyPair } from '../protocol/curve-keys.js';
import { isProtocolError } from '../protocol/errors.js';
import type { FrameBody, FrameType } from '../protocol/frame-bodies.js';
import { makeFrame, type AnyFrame, type Frame, type TraceCarrier } from '../protocol/frame.js';
import { meshRoutingId } from '../protocol/routing-id.js';
import { signFrame, type SigningKeyPair } from '../protocol/signing.js';
import { backoffDelay } from '../runtime/backoff.js';
import { systemClock, type Clock, type Timer } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';

export interface MeshClientOptions {
  readonly endpoint: string;
  readonly routerCurvePublicKey: string;
  readonly curve: CurveKeyPair;
  readonly signing: SigningKeyPair;
  readonly agentId: string;
  readonly role: 'xem' | 'xim';
  readonly agentVersion: string;
  readonly codec: FrameCodec;
  readonly logger: Logger;
  /** After every successful HELLO (first connect and every reconnect). */
  readonly onBound: (welcome: FrameBody<'welcome'>) => void;
  /** The bound connection was lost (a reconnect follows by itself). */
  readonly onUnbound?: () => void;
  readonly clock?: Clock;
  /** Router frames other than the handshake's own. */
  readonly onFrame: (frame: AnyFrame) => void;
  /** The router no longer admits this agent: stop and re-enroll. Called once. */
  readonly onReenrollRequired: (reason: string) => void;
}

export interface MeshClient {
  /** Opens the socket; it reconnects by itself from then on. */
  connect(): void;
  /** Signs and queues a frame; false when there is no socket or it refused it. */
  send<T extends FrameType>(
    type: T,
    body: FrameBody<T>,
    options?: { id?: string; trace?: TraceCarrier },
  ): Promise<boolean>;
  readonly bound: boolean;
  close(): void;
}

const BIND_DEADLINE_MS = 10_000;

/** Transport settings of an agent's mesh socket (exported so the mesh benchmark's agents match). */
export const MESH_SOCKET_OPTIONS = {
  reconnectInterval: 250,
  // libzmq doubles the interval while the router is away; capped low, so an agent whose router
  // came back dials it within seconds, well inside its lease (a 30 s cap once let a restart of a
  // few seconds outlast the heartbeat timeout).
  reconnectMaxInterval: 3_000,
  // Finds a router that vanished without closing the connection; a lost RST is rare, and each
  // ping costs the router a CURVE box, so this is slow on purpose.
  heartbeatInterval: 20_000,
  heartbeatTimeout: 60_000,
  handshakeInterval: 10_000,
  maxMessageSize: 2 * 1024 * 1024,
  linger: 0,
} as const;

/**
 * The agent's end of the mesh: a ZeroMQ DEALER over CURVE that proves its identity after every
 * handshake (hello → challenge → signed hello → welcome). Its routing id is fresh per socket
 * (routing-id.ts). libzmq reconnects a socket by itself but keeps its routing id, and a router
 * that has not yet noticed the old connection die ignores the new one; so when a connection
 * drops, or a handshake is not followed by a welcome in time, the socket is replaced with a new
 * one under a new id, after a jittered backoff (100 ms, doubling to 5 s, reset by a welcome).
 * Nothing connects until connect().
 */
export function createMeshClient(options: MeshClientOptions): MeshClient {
  const clock = options.clock ?? systemClock;
  const state: State = {
    socket: undefined,
    bound: false,
    closed: false,
    reenrollReported: false,
    lastHandshakeComplaint: 0,
    failures: 0,
    timer: undefined,
  };
  let tail: Promise<unknown> = Promise.resolve();
  const sendRaw = (frame: Frame): Promise<boolean> => {
    const bytes = options.codec.encode(signFrame(frame, options.signing));
    const socket = state.socket;
    const result = tail
      .then(() => (socket && !socket.closed ? socket.send(bytes) : Promise.reject(new Error('no socket'))))
      .then(
        () => true,
        () => false,
      );
    tail = result;
    return result;
  };
  const peer: Peer = {
    hello: (nonce) =>
      sendRaw(
        makeFrame('hello', {
          agent_id: options.agentId,
          role: options.role,
          agent_version: options.agentVersion,
          ...(nonce ? { nonce } : {}),
        }),
      ),
    reenroll(reason) {
      if (state.reenrollReported) return;
      state.reenrollReported = true;
      options.onReenrollRequired(reason);
    },
    replace(why) {
      if (state.closed || state.timer) return;
      const delay = backoffDelay(state.failures++, { initialMs: 100, maxMs: 5_000 });
      options.logger.info({ reason: why, retry_in_ms: delay }, 'replacing the mesh connection');
      unbind();
      state.socket?.close();
      state.timer = clock.setTimeout(() => {
        state.timer = undefined;
        connect(options, state, peer);
      }, delay);
    },
    bound(welcome) {
      state.bound = true;
      state.failures = 0;
      options.onBound(welcome);
    },
    unbind,
  };
  function unbind(): void {
    if (!state.bound) return;
    state.bound = false;
    options.onUnbound?.();
  }

  return {
    connect() {
      if (!state.socket && !state.closed) connect(options, state, peer);
    },
    send: (type, body, sendOptions) =>
      sendRaw(
        makeFrame(type, body, {
          ...(sendOptions?.id ? { id: sendOptions.id } : {}),
          ...(sendOptions?.trace ? { trace: sendOptions.trace } : {}),
        }),
      ),
    get bound() {
      return state.bound;
    },
    close() {
      state.closed = true;
      clock.clearTimeout(state.timer);
      state.socket?.close();
    },
  };
}

interface State {
  socket: Dealer | undefined;
  bound: boolean;
  closed: boolean;
  reenrollReported: boolean;
  lastHandshakeComplaint: number;
  /** Replacements since the last welcome: the backoff's exponent. */
  failures: number;
  timer: Timer | undefined;
}

interface Peer {
  hello(nonce?: string): Promise<boolean>;
  reenroll(reason: string): void;
  replace(why: string): void;
  bound(welcome: FrameBody<'welcome'>): void;
  unbind(): void;
}

function connect(options: MeshClientOptions, state: State, peer: Peer): void {
  const socket = new Dealer({
    ...MESH_SOCKET_OPTIONS,
    routingId: meshRoutingId(options.agentId),
    curveServerKey: options.routerCurvePublicKey,
    curvePublicKey: options.curve.publicKey,
    curveSecretKey: options.curve.secretKey,
  });
  state.socket = socket;
  socket.connect(options.endpoint);
  void watchEvents(socket, options, state, peer);
  void receiveLoop(socket, options, state, peer);
}

async function watchEvents(socket: Dealer, options: MeshClientOptions, state: State, peer: Peer) {
  let deadline: NodeJS.Timeout | undefined;
  try {
    for await (const event of socket.events) {
      if (event.type === 'handshake') {
        peer.unbind();
        await peer.hello();
        clearTimeout(deadline);
        deadline = setTimeout(
          () => !state.bound && state.socket === socket && peer.replace('no welcome after the handshake'),
          BIND_DEADLINE_MS,
        );
      } else if (event.type === 'disconnect') {
        peer.replace('connection lost');
      } else if (event.type === 'handshake:error:auth' && (event.error as { status?: number }).status === 400) {
        peer.reenroll("the router refused this agent's CURVE key (not enrolled or revoked)");
      } else if (event.type.startsWith('handshake:error') && Date.now() - state.lastHandshakeComplaint > 60_000) {
        state.lastHandshakeComplaint = Date.now();
        options.logger.warning(
          { endpoint: options.endpoint, event: event.type },
          'mesh handshake failing: is the router CURVE key right? retrying with backoff',
        );
      }
    }
  } catch (error) {
    if (!socket.closed) options.logger.error({ err: error }, 'mesh event loop failed');
  } finally {
    clearTimeout(deadline);
  }
}

async function receiveLoop(socket: Dealer, options: MeshClientOptions, state: State, peer: Peer) {
  try {
    for await (const [message] of socket) {
      let frame: AnyFrame;
      try {
        frame = options.codec.decode(message!);
      } catch (error) {
        if (!isProtocolError(error)) throw error;
        options.logger.warning({ code: error.code }, 'dropped a malformed frame from the router');
        continue;
      }
      if (frame.type === 'challenge') await peer.hello(frame.body.nonce);
      else if (frame.type === 'welcome') peer.bound(frame.body);
      else if (frame.type === 'lease.revoked') peer.reenroll(`the router revoked this agent: ${frame.body.reason}`);
      else options.onFrame(frame);
    }
  } catch (error) {
    if (!socket.closed) options.logger.error({ err: error }, 'mesh receive loop failed');
  }
}
