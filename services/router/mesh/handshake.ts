import { makeFrame, type Frame } from '../../protocol/frame.js';
import { routingIdSpeaksFor } from '../../protocol/routing-id.js';
import { verifyFrame } from '../../protocol/signing.js';
import type { Admission } from './admission.js';
import type { ConnectionTable, RoutingKey } from './connections.js';

/** What binding a connection needs: who is admitted, the table, and a way to answer. */
export interface HandshakeContext {
  readonly admission: Admission;
  readonly connections: ConnectionTable;
  readonly leaseRenewalIntervalMs: number;
  /** The manifest hash on record for an agent (the welcome asks for the manifest when none). */
  readonly knownManifest: (agentId: string) => string | null;
  readonly send: (routing: RoutingKey, frame: Frame) => void;
  readonly now: () => number;
}

export type HelloOutcome =
  | { readonly result: 'challenged' | 'bound'; readonly agentId: string }
  | { readonly result: 'not_admitted' | 'foreign_routing_id' | 'identity_not_proven'; readonly agentId: string };

/**
 * The identity half of the mesh: a CURVE handshake only says "some enrolled key", so a
 * connection speaks for an agent after hello (no nonce) → challenge (router nonce) → hello with
 * the nonce, signed by the agent's enrolled Ed25519 key → welcome. The routing id must carry the
 * claimed agent's id (it is the peer's choice, so a hint, never an identity).
 */
export function onHello(context: HandshakeContext, frame: Frame<'hello'>, routing: RoutingKey): HelloOutcome {
  const agent = context.admission.agent(frame.body.agent_id);
  if (!agent || agent.role !== frame.body.role) return { result: 'not_admitted', agentId: frame.body.agent_id };
  if (!routingIdSpeaksFor(routing, agent.id)) return { result: 'foreign_routing_id', agentId: agent.id };
  if (frame.body.nonce === undefined) {
    context.send(
      routing,
      makeFrame('challenge', { nonce: context.connections.challenge(routing, agent.id, context.now()) }),
    );
    return { result: 'challenged', agentId: agent.id };
  }
  if (!context.connections.expects(routing, agent.id, frame.body.nonce) || !verifyFrame(frame, agent.signingKey))
    return { result: 'identity_not_proven', agentId: agent.id };
  context.connections.bind(routing, agent.id, context.now());
  const renewal = context.leaseRenewalIntervalMs;
  const sendManifest = context.knownManifest(agent.id) === null;
  context.send(
    routing,
    makeFrame('welcome', {
      agent_id: agent.id,
      lease_renewal_interval_ms: renewal,
      lease_duration_ms: renewal * 3,
      send_manifest: sendManifest,
    }),
  );
  return { result: 'bound', agentId: agent.id };
}
