import { Client } from 'zeromq/draft.js';
import type { FrameCodec } from '../protocol/codec.js';
import type { CurveKeyPair } from '../protocol/curve-keys.js';
import { isProtocolError } from '../protocol/errors.js';
import type { FrameBody, FrameType } from '../protocol/frame-bodies.js';
import { makeFrame, type AnyFrame, type Frame } from '../protocol/frame.js';
import { signFrame, type SigningKeyPair } from '../protocol/signing.js';
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
  /** Router frames other than the handshake's own. */
  readonly onFrame: (frame: AnyFrame) => void;
  /** The router no longer admits this agent: stop and re-enroll. Called once. */
  readonly onReenrollRequired: (reason: string) => void;
}

export interface MeshClient {
  /** Signs and queues a frame; false when the socket refused it. */
  send<T extends FrameType>(type: T, body: FrameBody<T>, options?: { id?: string }): Promise<boolean>;
  readonly bound: boolean;
  close(): void;
}

/**
 * The agent's end of the mesh: a draft ZeroMQ Client over CURVE that reconnects with backoff up
 * to 30 s and proves its identity after every handshake (hello → challenge → signed hello →
 * welcome). Only one send may be pending on a zeromq.js socket, so sends are chained.
 */
export function startMeshClient(options: MeshClientOptions): MeshClient {
  const socket = new Client({
    curveServerKey: options.routerCurvePublicKey,
    curvePublicKey: options.curve.publicKey,
    curveSecretKey: options.curve.secretKey,
    reconnectInterval: 250,
    reconnectMaxInterval: 30_000,
    heartbeatInterval: 5_000,
    heartbeatTimeout: 15_000,
    handshakeInterval: 10_000,
    maxMessageSize: 2 * 1024 * 1024,
    linger: 0,
  });
  const state = { bound: false, closed: false, reenrollReported: false, lastHandshakeComplaint: 0 };
  let tail: Promise<unknown> = Promise.resolve();
  const sendRaw = (frame: Frame): Promise<boolean> => {
    const bytes = options.codec.encode(signFrame(frame, options.signing));
    const result = tail.then(() => socket.send(bytes)).then(() => true, () => false);
    tail = result;
    return result;
  };
  const hello = (nonce?: string) =>
    sendRaw(makeFrame('hello', { agent_id: options.agentId, role: options.role, agent_version: options.agentVersion, ...(nonce ? { nonce } : {}) }));
  const reenroll = (reason: string) => {
    if (state.reenrollReported) return;
    state.reenrollReported = true;
    options.onReenrollRequired(reason);
  };

  socket.connect(options.endpoint);
  void watchEvents(socket, options, state, hello, reenroll);
  void receiveLoop(socket, options, state, hello, reenroll);

  return {
    send: (type, body, sendOptions) => sendRaw(makeFrame(type, body, sendOptions?.id ? { id: sendOptions.id } : {})),
    get bound() {
      return state.bound;
    },
    close() {
      state.closed = true;
      socket.close();
    },
  };
}

type State = { bound: boolean; closed: boolean; reenrollReported: boolean; lastHandshakeComplaint: number };

async function watchEvents(socket: Client, options: MeshClientOptions, state: State, hello: (nonce?: string) => Promise<boolean>, reenroll: (reason: string) => void) {
  try {
    for await (const event of socket.events) {
      if (event.type === 'handshake') {
        state.bound = false;
        await hello();
      } else if (event.type === 'disconnect') {
        state.bound = false;
      } else if (event.type === 'handshake:error:auth' && (event.error as { status?: number }).status === 400) {
        reenroll('the router refused this agent\'s CURVE key (not enrolled or revoked)');
      } else if (event.type.startsWith('handshake:error') && Date.now() - state.lastHandshakeComplaint > 60_000) {
        state.lastHandshakeComplaint = Date.now();
        options.logger.warning({ endpoint: options.endpoint, event: event.type }, 'mesh handshake failing: is the router CURVE key right? retrying with backoff');
      }
    }
  } catch (error) {
    if (!state.closed) options.logger.error({ err: error }, 'mesh event loop failed');
  }
}

async function receiveLoop(socket: Client, options: MeshClientOptions, state: State, hello: (nonce?: string) => Promise<boolean>, reenroll: (reason: string) => void) {
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
      if (frame.type === 'challenge') await hello(frame.body.nonce);
      else if (frame.type === 'welcome') {
        state.bound = true;
        options.onBound(frame.body);
      } else if (frame.type === 'lease.revoked') reenroll(`the router revoked this agent: ${frame.body.reason}`);
      else options.onFrame(frame);
    }
  } catch (error) {
    if (!state.closed) options.logger.error({ err: error }, 'mesh receive loop failed');
  }
}
