import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** The header a replica signs a forwarded inference with. */
export const REPLICA_SIGNATURE_HEADER = 'x-xerotier-replica-signature';

export type ReplicaVerdict = 'ok' | 'missing' | 'malformed' | 'expired' | 'bad_signature' | 'replayed';

export interface ReplicaAuth {
  /** `v1.<expires ms>.<hmac>` over the expiry and the exact body. */
  sign(body: string, now: number): string;
  verify(header: string | undefined, body: string, now: number): ReplicaVerdict;
}

const VALID_FOR_MS = 30_000;
const INFO = 'xerotier replica forwarding v1';

/**
 * Replicas prove to each other that a forwarded inference came from a router: every replica
 * already holds the token-signing key (agents' tokens verify anywhere), so the forwarding key is
 * derived from it (HKDF, its own purpose) rather than being one more secret to distribute and
 * rotate. A signature covers the body and a 30-second expiry and is spent on first use, so a
 * captured request can be neither altered nor replayed. During a token-key rotation the key
 * derived from the previous one still verifies, so replicas on either side of a rollout agree.
 */
export function createReplicaAuth(signingKey: string, previousSigningKey?: string): ReplicaAuth {
  const keys = [derive(signingKey), ...(previousSigningKey ? [derive(previousSigningKey)] : [])];
  const spent = new Map<string, number>();
  const mac = (key: Buffer, expires: number, body: string) =>
    createHmac('sha256', key).update(`${expires}\n`).update(body).digest();
  return {
    sign(body, now) {
      const expires = now + VALID_FOR_MS;
      return `v1.${expires}.${mac(keys[0]!, expires, body).toString('hex')}`;
    },
    verify(header, body, now) {
      if (header === undefined || header === '') return 'missing';
      const match = /^v1\.(\d{1,15})\.([0-9a-f]{64})$/.exec(header);
      if (!match) return 'malformed';
      const expires = Number(match[1]);
      if (expires < now || expires > now + 2 * VALID_FOR_MS) return 'expired';
      const given = Buffer.from(match[2]!, 'hex');
      if (!keys.some((key) => timingSafeEqual(mac(key, expires, body), given))) return 'bad_signature';
      forgetSpent(spent, now);
      if (spent.has(match[2]!)) return 'replayed';
      spent.set(match[2]!, expires);
      return 'ok';
    },
  };
}

function derive(signingKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(signingKey, 'utf8'), Buffer.alloc(0), INFO, 32));
}

function forgetSpent(spent: Map<string, number>, now: number): void {
  for (const [signature, expires] of spent) {
    if (expires >= now) break; // inserted in expiry order: the rest are younger
    spent.delete(signature);
  }
}
