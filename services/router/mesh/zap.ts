import * as zmq from 'zeromq';
import type { Logger } from '../../runtime/logger.js';
import type { Admission } from './admission.js';

/** The ZAP domain the mesh socket enforces; a handshake in any other domain is refused. */
export const MESH_ZAP_DOMAIN = 'xerotier-mesh';
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

export interface ZapHandler {
  /** Handshakes decided so far, by outcome. */
  readonly decisions: { admitted: number; refused: number };
  close(): void;
}

/**
 * ZeroMQ Authentication Protocol (RFC 27) handler: admits only CURVE keys of enrolled,
 * non-revoked agents. Must be bound before the mesh socket, in the same context. The mesh
 * socket sets zapEnforceDomain, so if this loop ever dies, handshakes fail instead of opening
 * the door; onDeath lets the process stop loudly.
 */
export async function startZapHandler(admission: Admission, logger: Logger, onDeath: (error: unknown) => void): Promise<ZapHandler> {
  const socket = new zmq.Reply({ linger: 0 });
  await socket.bind(ZAP_ENDPOINT);
  const decisions = { admitted: 0, refused: 0 };
  let closing = false;
  void (async () => {
    for await (const [version, requestId, domain, , , mechanism, credentials] of socket) {
      const admitted = mechanism?.toString() === 'CURVE' && domain?.toString() === MESH_ZAP_DOMAIN && credentials !== undefined && admission.admitsCurveKey(credentials);
      decisions[admitted ? 'admitted' : 'refused'] += 1;
      if (!admitted) logger.info({ key: credentials?.toString('hex').slice(0, 16) }, 'mesh handshake refused: key not enrolled or revoked');
      await socket.send([version ?? '1.0', requestId ?? '', admitted ? '200' : '400', admitted ? 'OK' : 'not admitted', '', '']);
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
