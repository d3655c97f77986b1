import { randomBytes } from 'node:crypto';

/**
 * Mesh routing ids. On a ZeroMQ ROUTER the peer chooses its routing id, so an id is a hint,
 * never an identity. Agents use `<agent id>.<64 random bits>`, fresh for every socket:
 * - always set, so the router never auto-generates ids for honest peers (a 0x00-prefixed
 *   squatter colliding with an auto id aborts libzmq 4.3.5);
 * - prefixed by the agent id, so a HELLO is accepted only on a connection that claims the
 *   same agent, and a squatter's id can never be bound;
 * - unguessable, so another peer cannot take an agent's id and swallow its traffic;
 * - plain ASCII, because zeromq.js encodes the option as UTF-8.
 */
export function meshRoutingId(agentId: string): string {
  return `${agentId}.${randomBytes(8).toString('hex')}`;
}

/** True when a connection's routing id (bytes, or bytes as a latin1 string) was chosen for this agent. */
export function routingIdSpeaksFor(routingId: Buffer | string, agentId: string): boolean {
  const text = typeof routingId === 'string' ? routingId : routingId.toString('latin1');
  const prefix = `${agentId}.`;
  return text.startsWith(prefix) && /^[0-9a-f]{16}$/.test(text.slice(prefix.length));
}
