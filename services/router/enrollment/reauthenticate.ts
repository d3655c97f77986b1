import { randomBytes } from 'node:crypto';
import { challengeSignedBy } from '../../protocol/reauth.js';
import { signingPublicKey } from '../../protocol/signing.js';
import type { AgentTokens } from '../auth/agent-tokens.js';
import { consumeChallenge, insertChallenge } from '../store/agent-challenges.js';
import { findAgentById } from '../store/agents.js';
import { appendAudit } from '../store/audit-log.js';
import type { Pool } from '../store/pool.js';
import type { RefreshRefusal } from './enroll.js';

/** How long an agent has to answer a challenge. */
export const CHALLENGE_TTL_MS = 60_000;

/**
 * A fresh nonce for an agent to sign. Answered for any well-formed id (an unknown one gets a
 * nonce that can never be spent), so the endpoint says nothing about which agents exist.
 */
export async function issueChallenge(
  pool: Pool,
  agentId: string,
  now: Date,
): Promise<{ nonce: string; expiresAt: Date }> {
  const nonce = randomBytes(32).toString('hex');
  const expiresAt = new Date(now.getTime() + CHALLENGE_TTL_MS);
  await insertChallenge(pool, { nonce, agentId, expiresAt });
  return { nonce, expiresAt };
}

export type ReauthRefusal = RefreshRefusal | 'reauthentication_failed';

/**
 * An enrolled agent back after an outage longer than its token: the single-use nonce spent, its
 * signature checked against the key it enrolled with, its record live — then a fresh token.
 * Only revocation or replacement stops it, and the refusal says which.
 */
export async function reauthenticate(
  pool: Pool,
  tokens: AgentTokens,
  answer: { agentId: string; nonce: string; signature: string },
  context: { now: Date; from: string },
): Promise<{ token: string; expiresAt: Date } | { refusal: ReauthRefusal }> {
  const spent = await consumeChallenge(pool, answer.nonce, answer.agentId, context.now);
  const agent = spent ? await findAgentById(pool, answer.agentId) : undefined;
  if (
    !agent ||
    !challengeSignedBy(answer.agentId, answer.nonce, answer.signature, signingPublicKey(agent.signing_public_key))
  ) {
    if (agent)
      await appendAudit(pool, {
        projectId: agent.project_id,
        actor: 'router',
        event: 'agent.reauthentication_refused',
        subject: agent.id,
        detail: { reason: 'bad_signature', from: context.from },
      });
    return { refusal: 'reauthentication_failed' };
  }
  if (agent.status === 'superseded') return { refusal: 'agent_superseded' };
  if (agent.status === 'revoked') return { refusal: 'agent_revoked' };
  await appendAudit(pool, {
    projectId: agent.project_id,
    actor: `agent:${agent.id}`,
    event: 'agent.reauthenticated',
    subject: agent.id,
    detail: { from: context.from },
  });
  return tokens.issue({ agentId: agent.id, projectId: agent.project_id, role: agent.role });
}
