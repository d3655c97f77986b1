import { createHash, randomBytes } from 'node:crypto';

// Credential formats. API keys: xero_<project slug>_<secret>; join keys: xjk_<secret>. Secrets
// are 256 random bits in base64url; only SHA-256 digests are stored.
const API_KEY = /^xero_([a-z0-9][a-z0-9-]{0,62})_([A-Za-z0-9_-]{43})$/;
const JOIN_KEY = /^xjk_([A-Za-z0-9_-]{43})$/;

export interface MintedSecret {
  /** The value shown once to the caller. */
  readonly token: string;
  readonly hash: Buffer;
  /** First characters of the secret, stored and listed so keys can be told apart. */
  readonly prefix: string;
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function mintApiKey(projectSlug: string): MintedSecret {
  const secret = randomBytes(32).toString('base64url');
  return { token: `xero_${projectSlug}_${secret}`, hash: sha256(secret), prefix: secret.slice(0, 8) };
}

export function parseApiKey(token: string): { slug: string; hash: Buffer } | undefined {
  const match = API_KEY.exec(token);
  return match ? { slug: match[1]!, hash: sha256(match[2]!) } : undefined;
}

export function mintJoinKey(): MintedSecret {
  const secret = randomBytes(32).toString('base64url');
  return { token: `xjk_${secret}`, hash: sha256(secret), prefix: secret.slice(0, 8) };
}

/** The stored digest of a join key, or undefined when it is not shaped like one. */
export function joinKeyHash(token: string): Buffer | undefined {
  const match = JOIN_KEY.exec(token);
  return match ? sha256(match[1]!) : undefined;
}
