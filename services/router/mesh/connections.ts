import { randomBytes } from 'node:crypto';

interface Connection {
  agentId: string;
  /** Set while a challenge is outstanding; cleared once the connection is bound. */
  nonce: string | null;
  bound: boolean;
}

/**
 * Which mesh connection speaks for which agent. The transport's routing ids are the router's
 * own (draft Server socket) but say nothing about identity: a connection is bound to an agent
 * only after a HELLO signed by that agent's enrolled key over a fresh router nonce. One bound
 * connection per agent: a new binding replaces the old.
 */
export class ConnectionTable {
  private readonly byRouting = new Map<number, Connection>();
  private readonly byAgent = new Map<string, number>();

  challenge(routingId: number, agentId: string): string {
    const nonce = randomBytes(32).toString('hex');
    const existing = this.byRouting.get(routingId);
    if (existing?.bound) this.unbind(routingId);
    this.byRouting.set(routingId, { agentId, nonce, bound: false });
    return nonce;
  }

  /** True when the nonce is the one outstanding for this connection and agent. */
  expects(routingId: number, agentId: string, nonce: string): boolean {
    const connection = this.byRouting.get(routingId);
    return connection !== undefined && !connection.bound && connection.agentId === agentId && connection.nonce === nonce;
  }

  /** Binds and returns the routing id this replaces, if any. */
  bind(routingId: number, agentId: string): number | undefined {
    const previous = this.byAgent.get(agentId);
    if (previous !== undefined && previous !== routingId) this.byRouting.delete(previous);
    this.byRouting.set(routingId, { agentId, nonce: null, bound: true });
    this.byAgent.set(agentId, routingId);
    return previous !== routingId ? previous : undefined;
  }

  agentOf(routingId: number): string | undefined {
    const connection = this.byRouting.get(routingId);
    return connection?.bound ? connection.agentId : undefined;
  }

  routingOf(agentId: string): number | undefined {
    return this.byAgent.get(agentId);
  }

  unbindAgent(agentId: string): number | undefined {
    const routingId = this.byAgent.get(agentId);
    if (routingId !== undefined) this.unbind(routingId);
    return routingId;
  }

  unbind(routingId: number): void {
    const connection = this.byRouting.get(routingId);
    this.byRouting.delete(routingId);
    if (connection && this.byAgent.get(connection.agentId) === routingId) this.byAgent.delete(connection.agentId);
  }

  get boundCount(): number {
    return this.byAgent.size;
  }
}

/** Remembers recent frame ids per agent so a resent frame is answered, not processed again. */
export class RecentFrames {
  private readonly perAgent = new Map<string, Map<string, 'ok' | 'rejected'>>();

  constructor(private readonly capacity = 4_096) {}

  seen(agentId: string, frameId: string): 'ok' | 'rejected' | undefined {
    return this.perAgent.get(agentId)?.get(frameId);
  }

  remember(agentId: string, frameId: string, outcome: 'ok' | 'rejected'): void {
    let frames = this.perAgent.get(agentId);
    if (!frames) this.perAgent.set(agentId, (frames = new Map<string, 'ok' | 'rejected'>()));
    frames.set(frameId, outcome);
    if (frames.size > this.capacity) frames.delete(frames.keys().next().value!);
  }
}
