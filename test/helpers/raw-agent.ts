import { randomBytes } from 'node:crypto';
import { Dealer } from 'zeromq';
import { createFrameCodec } from '../../services/protocol/codec.js';
import { generateCurveKeyPair, type CurveKeyPair } from '../../services/protocol/curve-keys.js';
import type { FrameBody, FrameType } from '../../services/protocol/frame-bodies.js';
import { makeFrame, type AnyFrame, type Frame } from '../../services/protocol/frame.js';
import { generateSigningKeyPair, signFrame, type SigningKeyPair } from '../../services/protocol/signing.js';

export interface RawPeerOptions {
  readonly curve?: CurveKeyPair;
  readonly signing?: SigningKeyPair;
  /** The routing id to claim, any bytes; null claims none (the router makes one up). Random by default. */
  readonly routingId?: string | Buffer | null;
}

/**
 * A hand-driven mesh peer for tests that play the attacker: it speaks frames one at a time and
 * shows exactly what the router answers.
 */
export class RawPeer {
  readonly codec = createFrameCodec({ maxBytes: 4 * 1024 * 1024 });
  readonly socket: Dealer;
  readonly curve: CurveKeyPair;
  readonly signing: SigningKeyPair;
  private readonly inbox: AnyFrame[] = [];
  private waiters: (() => void)[] = [];

  constructor(endpoint: string, routerKey: string, options: RawPeerOptions = {}) {
    this.curve = options.curve ?? generateCurveKeyPair();
    this.signing = options.signing ?? generateSigningKeyPair();
    const routingId = options.routingId === undefined ? `peer.${randomBytes(8).toString('hex')}` : options.routingId;
    this.socket = new Dealer({
      curveServerKey: routerKey,
      curvePublicKey: this.curve.publicKey,
      curveSecretKey: this.curve.secretKey,
      linger: 0,
      reconnectInterval: 100,
    });
    // zeromq.js types the option as a string (sent as UTF-8) but passes a Buffer's bytes as they
    // are, as an attacker's own ZMTP stack would.
    if (routingId !== null) this.socket.routingId = routingId as string;
    this.socket.connect(endpoint);
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for await (const [message] of this.socket) {
        this.inbox.push(this.codec.decode(message!));
        for (const wake of this.waiters.splice(0)) wake();
      }
    } catch {
      // closed
    }
  }

  sendRaw(bytes: Buffer): Promise<void> {
    return this.socket.send(bytes);
  }

  send<T extends FrameType>(
    type: T,
    body: FrameBody<T>,
    options: { id?: string; sign?: SigningKeyPair | false } = {},
  ): Promise<Frame<T>> {
    const frame = makeFrame(type, body, options.id ? { id: options.id } : {});
    const signer = options.sign === undefined ? this.signing : options.sign;
    const out = signer ? signFrame(frame, signer) : frame;
    return this.socket.send(this.codec.encode(out)).then(() => out);
  }

  /** The next frame of a type, or undefined after timeoutMs. */
  async next<T extends FrameType>(type: T, timeoutMs = 2_000): Promise<Frame<T> | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.inbox.findIndex((frame) => frame.type === type);
      if (index >= 0) return this.inbox.splice(index, 1)[0] as unknown as Frame<T>;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      // Woken by the next frame; the timer is only the deadline.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  /** hello → challenge → signed hello → welcome; the welcome, or undefined. */
  async bind(
    agentId: string,
    role: 'xem' | 'xim' = 'xem',
    signer: SigningKeyPair = this.signing,
  ): Promise<FrameBody<'welcome'> | undefined> {
    await this.send('hello', { agent_id: agentId, role, agent_version: 'test' }, { sign: false });
    const challenge = await this.next('challenge');
    if (!challenge) return undefined;
    await this.send(
      'hello',
      { agent_id: agentId, role, agent_version: 'test', nonce: challenge.body.nonce },
      { sign: signer },
    );
    return (await this.next('welcome'))?.body;
  }

  renewal(): FrameBody<'lease_renewal'> {
    return {
      manifest_hash: randomBytes(32).toString('hex'),
      manifest_version: 1,
      capacity: { max_concurrent: 1, in_use: 0 },
      in_flight: [],
    };
  }

  close(): void {
    this.socket.close();
  }
}
