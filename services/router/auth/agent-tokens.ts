import { createHash, randomUUID, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { signingKeyPairFromSeed, signingPublicKey } from '../../protocol/signing.js';

const ISSUER = 'xerotier-router';
const AUDIENCE = 'xerotier-agent';

export interface AgentClaims {
  readonly agentId: string;
  readonly projectId: string;
  readonly role: 'xem' | 'xim';
  /** Issue time, seconds since the epoch. */
  readonly issuedAt: number;
}

export interface AgentTokens {
  issue(claims: Omit<AgentClaims, 'issuedAt'>): Promise<{ token: string; expiresAt: Date }>;
  /** Throws unless the token is ours, unexpired and well-formed. */
  verify(token: string): Promise<AgentClaims>;
}

/** A key's id in a token's header: the first 16 hex characters of the SHA-256 of its public key. */
function keyId(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
}

/**
 * Short-lived EdDSA JWTs identifying an enrolled agent (sub = agent id), signed with the current
 * key. During a rotation the previous key still verifies (`kid` picks it) until the operator
 * drops it: agents holding older tokens keep working and get new-key tokens at their next
 * refresh, and an agent offline past both proves its enrolled key (reauthenticate) instead.
 */
export function createAgentTokens(seedHex: string, ttlSeconds: number, previousSeedHex?: string): AgentTokens {
  const pair = signingKeyPairFromSeed(Buffer.from(seedHex, 'hex'));
  const kid = keyId(pair.publicKey);
  const verifiers = new Map<string, KeyObject>([[kid, signingPublicKey(pair.publicKey)]]);
  if (previousSeedHex && previousSeedHex.toLowerCase() !== seedHex.toLowerCase()) {
    const previous = signingKeyPairFromSeed(Buffer.from(previousSeedHex, 'hex'));
    verifiers.set(keyId(previous.publicKey), signingPublicKey(previous.publicKey));
  }
  const verifierOf = (token: string): KeyObject => {
    const header = decodeProtectedHeader(token);
    // Tokens from before key ids were written carry none: only the current key may verify them.
    return verifiers.get(typeof header.kid === 'string' ? header.kid : kid) ?? verifiers.get(kid)!;
  };
  return {
    async issue(claims) {
      const expiresAt = new Date(Math.floor(Date.now() / 1_000) * 1_000 + ttlSeconds * 1_000);
      const token = await new SignJWT({ prj: claims.projectId, role: claims.role })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(claims.agentId)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1_000))
        .sign(pair.privateKeyObject);
      return { token, expiresAt };
    },
    async verify(token) {
      const { payload } = await jwtVerify(token, verifierOf(token), {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['EdDSA'],
      });
      const role = payload['role'];
      if (
        typeof payload.sub !== 'string' ||
        typeof payload['prj'] !== 'string' ||
        (role !== 'xem' && role !== 'xim') ||
        typeof payload.iat !== 'number'
      ) {
        throw new Error('agent token lacks its claims');
      }
      return { agentId: payload.sub, projectId: payload['prj'], role, issuedAt: payload.iat };
    },
  };
}
