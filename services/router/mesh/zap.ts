import * as zmq from 'zeromq';
import type { Logger } from '../../runtime/logger.js';
import type { Admission } from './admission.js';
import type { HandshakeBudget } from './handshake-budget.js';

/** The ZAP domain the mesh socket enforces; a handshake in any other domain is refused. */
export const MESH_ZAP_DOMAIN = 'xerotier-mesh';
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

export interface ZapHandler {
  /** Handshakes decided so far, by outcome. */
  readonly decisions: { admitted: number; refused: number; throttled: number };
  close(): void;
}

type Decision = 'admitted' | 'refused' | 'throttled';
const REPLY: Record<Decision, [string, string]> = { admitted: ['200', 'OK'], refused: ['400', 'not admitted'], throttled: ['300', 'too many handshakes'] };

/**
 * ZeroMQ Authentication Protocol (RFC 27) handler: admits only CURVE keys of enrolled,
 * non-revoked agents, and only while the key's handshake budget lasts (past it, a temporary
 * 300, so an agent caught by it retries with backoff). Must be bound before the mesh
 * socket, in the same context. The mesh socket sets zapEnforceDomain, so if this loop ever
 * dies, handshakes fail instead of opening the door; onDeath lets the process stop loudly.
 */
export async function startZapHandler(admission: Admission, budget: HandshakeBudget, logger: Logger, onDeath: (error: unknown) => void): Promise<ZapHandler> {
  const socket = new zmq.Reply({ linger: 0 });
  await socket.bind(ZAP_ENDPOINT);
  const decisions = { admitted: 0, refused: 0, throttled: 0 };
  const warned = new Map<string, number>();
  let closing = false;
  void (async () => {
    for await (const [version, requestId, domain, address, , mechanism, credentials] of socket) {
      const enrolled = mechanism?.toString() === 'CURVE' && domain?.toString() === MESH_ZAP_DOMAIN && credentials !== undefined && admission.admitsCurveKey(credentials);
      const keyHex = credentials?.toString('hex') ?? '';
      const decision: Decision = !enrolled ? 'refused' : budget.spend(keyHex, Date.now()) ? 'admitted' : 'throttled';
      decisions[decision] += 1;
      if (decision === 'refused') logger.info({ key: keyHex.slice(0, 16) }, 'mesh handshake refused: key not enrolled or revoked');
      if (decision === 'throttled') warnThrottled(logger, warned, keyHex, admission);
      // Every admission is logged: honest agents always name their connection, so the last key
      // admitted before an abnormal router exit points at whoever opened an id-less connection.
      if (decision === 'admitted') logger.info({ agent_id: admission.agentByCurveKey(keyHex)?.id, address: address?.toString() }, 'mesh handshake admitted');
      await socket.send([version ?? '1.0', requestId ?? '', ...REPLY[decision], '', '']);
    }
  })().then(
    () => !closing && onDeath(new Error('ZAP handler stopped')),
    (error: unknown) => !closing && onDeath(error),
  );
  return {
    decisions,
    close() {
      closing = true;
      socket.close();
    },
  };
}

function warnThrottled(logger: Logger, warned: Map<string, number>, keyHex: string, admission: Admission): void {
  const now = Date.now();
  if ((warned.get(keyHex) ?? 0) + 60_000 > now) return;
  if (warned.size > 10_000) warned.clear();
  warned.set(keyHex, now);
  logger.warning({ agent_id: admission.agentByCurveKey(keyHex)?.id }, 'mesh handshakes refused for a while: this key is opening connections faster than any agent should');
}
