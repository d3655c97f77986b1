import { randomBytes } from 'node:crypto';
import type { ReplicaIdentity } from '../mesh/persistence.js';

export interface Replica extends ReplicaIdentity {
  /** The HTTP server is up at `url` (used when no internal URL is configured). */
  listening(url: string): void;
}

/**
 * This process as one replica of the router: a fresh id per start (a restarted replica holds
 * nothing of its predecessor's connections) and the address the others forward to.
 */
export function createReplica(internalUrl: string | undefined): Replica {
  let url = internalUrl;
  return {
    id: `rtr_${randomBytes(8).toString('hex')}`,
    url: () => url,
    listening(listened) {
      url ??= listened;
    },
  };
}
