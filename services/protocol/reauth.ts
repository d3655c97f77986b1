import { sign, verify, type KeyObject } from 'node:crypto';
import type { SigningKeyPair } from './signing.js';

// Domain-separated: a re-authentication signature can never be replayed as a frame signature.
const DOMAIN = 'xerotier-agent-reauth-v1';

function signedText(agentId: string, nonce: string): Buffer {
  return Buffer.from(`${DOMAIN}\n${agentId}\n${nonce}`, 'utf8');
}

/** The agent's answer to a re-authentication challenge: its enrolled key over (agent id, nonce). */
export function signChallenge(agentId: string, nonce: string, pair: SigningKeyPair): string {
  return sign(null, signedText(agentId, nonce), pair.privateKeyObject).toString('base64');
}

export function challengeSignedBy(agentId: string, nonce: string, signature: string, key: KeyObject): boolean {
  try {
    return verify(null, signedText(agentId, nonce), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
