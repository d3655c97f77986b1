import { randomUUID, type KeyObject } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
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

/** Short-lived EdDSA JWTs identifying an enrolled agent (sub = agent id). */
export function createAgentTokens(seedHex: string, ttlSeconds: number): AgentTokens {
  const pair = signingKeyPairFromSeed(Buffer.from(seedHex, 'hex'));
  const publicKey: KeyObject = signingPublicKey(pair.publicKey);
  return {
    async issue(claims) {
      const expiresAt = new Date(Math.floor(Date.now() / 1_000) * 1_000 + ttlSeconds * 1_000);
      const token = await new SignJWT({ prj: claims.projectId, role: claims.role })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
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
      const { payload } = await jwtVerify(token, publicKey, {
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
