import { randomBytes } from 'node:crypto';

interface Connection {
  agentId: string;
  /** Set while a challenge is outstanding; cleared once the connection is bound. */
  nonce: string | null;
  bound: boolean;
  since: number;
}

/** Connections keyed by routing id (the id's bytes as a latin1 string). */
export type RoutingKey = string;

const PENDING_TTL_MS = 30_000;
const MAX_PENDING = 20_000;

/**
 * Which mesh connection speaks for which agent. A routing id says nothing about identity: a
 * connection is bound to an agent only after a HELLO signed by that agent's enrolled key over
 * a fresh router nonce. One bound connection per agent: a new binding replaces the old.
 * Outstanding challenges expire and are capped, so peers that never answer cost bounded memory.
 */
export class ConnectionTable {
  private readonly byRouting = new Map<RoutingKey, Connection>();
  private readonly byAgent = new Map<string, RoutingKey>();
  private pending = 0;

  challenge(routing: RoutingKey, agentId: string, now = Date.now()): string {
    const nonce = randomBytes(32).toString('hex');
    if (this.byRouting.get(routing)?.bound) this.unbind(routing);
    if (this.pending >= MAX_PENDING) this.expirePending(now, true);
    if (!this.byRouting.has(routing)) this.pending += 1;
    this.byRouting.set(routing, { agentId, nonce, bound: false, since: now });
    return nonce;
  }

  /** True when the nonce is the one outstanding for this connection and agent. */
  expects(routing: RoutingKey, agentId: string, nonce: string): boolean {
    const connection = this.byRouting.get(routing);
    return (
      connection !== undefined && !connection.bound && connection.agentId === agentId && connection.nonce === nonce
    );
  }

  /** Binds the connection to the agent, replacing the agent's previous one. */
  bind(routing: RoutingKey, agentId: string, now = Date.now()): void {
    const previous = this.byAgent.get(agentId);
    if (previous !== undefined && previous !== routing) this.byRouting.delete(previous);
    if (this.byRouting.get(routing)?.bound === false) this.pending -= 1;
    this.byRouting.set(routing, { agentId, nonce: null, bound: true, since: now });
    this.byAgent.set(agentId, routing);
  }

  agentOf(routing: RoutingKey): string | undefined {
    const connection = this.byRouting.get(routing);
    return connection?.bound ? connection.agentId : undefined;
  }

  routingOf(agentId: string): RoutingKey | undefined {
    return this.byAgent.get(agentId);
  }

  unbindAgent(agentId: string): RoutingKey | undefined {
    const routing = this.byAgent.get(agentId);
    if (routing !== undefined) this.unbind(routing);
    return routing;
  }

  unbind(routing: RoutingKey): void {
    const connection = this.byRouting.get(routing);
    this.byRouting.delete(routing);
    if (connection && !connection.bound) this.pending -= 1;
    if (connection?.bound && this.byAgent.get(connection.agentId) === routing) this.byAgent.delete(connection.agentId);
  }

  /** Forgets challenges older than the TTL (all of them when under pressure). */
  expirePending(now: number, all = false): void {
    for (const [routing, connection] of this.byRouting) {
      if (!connection.bound && (all || now - connection.since > PENDING_TTL_MS)) this.unbind(routing);
    }
  }

  boundAgents(): string[] {
    return [...this.byAgent.keys()];
  }

  get boundCount(): number {
    return this.byAgent.size;
  }

  get pendingCount(): number {
    return this.pending;
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
