import type { AnyFrame, TraceCarrier } from '../protocol/frame.js';
import type { FrameBody, FrameType } from '../protocol/frame-bodies.js';
import type { Clock } from '../runtime/clock.js';
import type { MeshClient } from './mesh-client.js';

/** After its last stream, an old connection stays this long so what it was sending still leaves. */
const LINGER_MS = 2_000;
/** An old connection is closed by then even if a stream on it never ended. */
const DRAIN_CAP_MS = 10 * 60_000;
const MAX_PINNED = 10_000;

type Send = <T extends FrameType>(
  type: T,
  body: FrameBody<T>,
  options?: { id?: string; trace?: TraceCarrier },
) => Promise<boolean>;

/**
 * The agent's mesh connections across a CURVE key rotation: the current one, the one being
 * opened to the next key, and old ones draining. A stream's reports go back on the connection
 * its request came on until it ends: behind a shared load balancer the new connection may reach
 * another router replica, which holds no such stream. Everything else goes on the current one.
 */
export class AgentConnections {
  current: MeshClient | undefined;
  pending: MeshClient | undefined;
  private readonly draining = new Map<MeshClient, { cap: ReturnType<Clock['setTimeout']> }>();
  private readonly streamOn = new Map<string, MeshClient>();

  constructor(private readonly clock: Clock) {}

  /** A frame came in on `client`: an inference request pins its stream there. */
  received(client: MeshClient, frame: AnyFrame): void {
    if (frame.type !== 'infer.request') return;
    this.streamOn.set(frame.body.request_id, client);
    // A stream cancelled without a last report leaves its pin behind: keep the map bounded.
    if (this.streamOn.size > MAX_PINNED) this.streamOn.delete(this.streamOn.keys().next().value!);
  }

  readonly send: Send = (type, body, options) => {
    const requestId = type.startsWith('infer.') ? (body as { request_id?: string }).request_id : undefined;
    const pinned = requestId === undefined ? undefined : this.streamOn.get(requestId);
    if (requestId !== undefined && pinned && (type === 'infer.done' || type === 'infer.error')) {
      this.streamOn.delete(requestId);
      const sent = pinned.send(type, body, options);
      if (this.draining.has(pinned)) void sent.finally(() => this.retireIfIdle(pinned));
      return sent;
    }
    const via = pinned && (pinned === this.current || this.draining.has(pinned)) ? pinned : this.current;
    return via?.send(type, body, options) ?? Promise.resolve(false);
  };

  /** The pending connection bound: it becomes current and the old one drains. */
  promote(client: MeshClient): void {
    const old = this.current;
    this.current = client;
    if (this.pending === client) this.pending = undefined;
    if (!old || old === client) return;
    const cap = this.clock.setTimeout(() => this.close(old), DRAIN_CAP_MS);
    cap.unref();
    this.draining.set(old, { cap });
    this.retireIfIdle(old);
  }

  /** Whether a bound report from this client should be acted on (a draining one rebinding is not). */
  isLive(client: MeshClient): boolean {
    return client === this.current || client === this.pending;
  }

  closeAll(): void {
    for (const client of [...this.draining.keys()]) this.close(client);
    this.pending?.close();
    this.current?.close();
    this.pending = this.current = undefined;
    this.streamOn.clear();
  }

  private retireIfIdle(old: MeshClient): void {
    for (const client of this.streamOn.values()) if (client === old) return;
    this.clock.setTimeout(() => this.close(old), LINGER_MS).unref();
  }

  private close(client: MeshClient): void {
    const draining = this.draining.get(client);
    if (!draining) return;
    this.clock.clearTimeout(draining.cap);
    this.draining.delete(client);
    for (const [requestId, holder] of this.streamOn) if (holder === client) this.streamOn.delete(requestId);
    client.close();
  }
}
