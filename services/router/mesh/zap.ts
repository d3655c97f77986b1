import type { Logger } from '../../runtime/logger.js';
import type { Admission } from './admission.js';
import type { ZapDecision } from './gateway-protocol.js';
import type { HandshakeBudget } from './handshake-budget.js';

export { MESH_ZAP_DOMAIN } from './gateway-protocol.js';

/** Who may complete a CURVE handshake (ZeroMQ Authentication Protocol, RFC 27). */
export interface ZapHandler {
  /** A decision for an enrolled-looking handshake; undefined once closed (no answer: refused). */
  decide(keyHex: string, address: string): ZapDecision | undefined;
  /** Handshakes decided so far, by outcome. */
  readonly decisions: Record<ZapDecision, number>;
  /** Stops answering: from then on every handshake fails (the mesh fails closed). */
  close(): void;
  /** Answers again (the mesh started again after a close). */
  open(): void;
}

/**
 * Admits only CURVE keys of enrolled, non-revoked agents, and only while the key's handshake
 * budget lasts (past it, a temporary 300, so an agent caught by it retries with backoff). The
 * gateway's ZAP socket asks this for every handshake and enforces the domain, so a handler that
 * is gone or silent means no handshakes, never open doors.
 */
export function createZapHandler(
  admission: Admission,
  budget: HandshakeBudget,
  logger: Logger,
  now: () => number = Date.now,
): ZapHandler {
  const decisions: Record<ZapDecision, number> = { admitted: 0, refused: 0, throttled: 0 };
  const warned = new Map<string, number>();
  let closed = false;
  return {
    decisions,
    decide(keyHex, address) {
      if (closed) return undefined;
      const agent = admission.agentByCurveKey(keyHex);
      const decision: ZapDecision = !agent ? 'refused' : budget.spend(keyHex, now()) ? 'admitted' : 'throttled';
      decisions[decision] += 1;
      if (decision === 'refused')
        logger.info({ key: keyHex.slice(0, 16), address }, 'mesh handshake refused: key not enrolled or revoked');
      if (decision === 'throttled') warnThrottled(logger, warned, agent!.id, now());
      // Every admission is logged: honest agents always name their connection, so the last key
      // admitted before a gateway abort points at whoever opened an id-less connection.
      if (decision === 'admitted') logger.info({ agent_id: agent!.id, address }, 'mesh handshake admitted');
      return decision;
    },
    close() {
      closed = true;
    },
    open() {
      closed = false;
    },
  };
}

function warnThrottled(logger: Logger, warned: Map<string, number>, agentId: string, now: number): void {
  if ((warned.get(agentId) ?? 0) + 60_000 > now) return;
  if (warned.size > 10_000) warned.clear();
  warned.set(agentId, now);
  logger.warning(
    { agent_id: agentId },
    'mesh handshakes refused for a while: this key is opening connections faster than any agent should',
  );
}
