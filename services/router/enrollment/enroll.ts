import { curveKeyBytes } from '../../protocol/curve-keys.js';
import type { AgentTokens } from '../auth/agent-tokens.js';
import { joinKeyHash } from '../auth/secrets.js';
import { announceAgentChange } from '../mesh/agent-changes.js';
import type { AgentKeys } from '../mesh/admission.js';
import { appendAudit } from '../store/audit-log.js';
import { findAgentById, insertAgent, supersedeAgents } from '../store/agents.js';
import { withTransaction } from '../store/db.js';
import { newId } from '../store/ids.js';
import { consumeJoinKey, explainJoinKeyRefusal } from '../store/join-keys.js';
import type { Pool } from '../store/pool.js';

export interface EnrollmentRequest {
  readonly join_key: string;
  readonly role: 'xem' | 'xim';
  readonly registration_name: string;
  readonly signing_public_key: string;
  readonly curve_public_key: string;
  readonly manifest?: Record<string, unknown>;
}

export interface EnrollmentSettings {
  readonly tokens: AgentTokens;
  readonly routerCurvePublicKey: string;
  readonly meshEndpoint: string;
  readonly leaseRenewalIntervalMs: number;
}

export type EnrollmentOutcome =
  | {
      readonly ok: true;
      readonly agentId: string;
      readonly projectId: string;
      /** What the mesh needs to admit the new agent. */
      readonly keys: AgentKeys;
      readonly superseded: readonly string[];
      readonly token: string;
      readonly expiresAt: Date;
    }
  | { readonly ok: false };

/**
 * Spends the join key and records the agent in one transaction; a re-enrollment under a live
 * name (or with a live CURVE key) supersedes the old record. Refusals say nothing to the
 * caller and everything to the audit trail.
 */
export async function enrollAgent(pool: Pool, settings: EnrollmentSettings, request: EnrollmentRequest, from: string): Promise<EnrollmentOutcome> {
  const hash = joinKeyHash(request.join_key);
  if (!hash) {
    await appendAudit(pool, { projectId: null, actor: 'router', event: 'agent.enrollment_refused', detail: { reason: 'malformed', from } });
    return { ok: false };
  }
  const agentId = newId('agt');
  const curveKey = Buffer.from(curveKeyBytes(request.curve_public_key));
  const signingKey = Buffer.from(request.signing_public_key, 'hex');
  const enrolled = await withTransaction(pool, async (client) => {
    const key = await consumeJoinKey(client, hash, request.role, agentId);
    if (!key) return undefined;
    const superseded = await supersedeAgents(client, key.project_id, request.registration_name, curveKey);
    await insertAgent(client, {
      id: agentId, projectId: key.project_id, role: request.role, registrationName: request.registration_name, region: key.region,
      joinKeyId: key.id, signingPublicKey: signingKey, curvePublicKey: curveKey, manifest: request.manifest ?? null,
    });
    for (const old of superseded) {
      await appendAudit(client, { projectId: key.project_id, actor: 'router', event: 'agent.superseded', subject: old, detail: { by: agentId } });
      await announceAgentChange(client, { agent_id: old, change: 'revoked' });
    }
    await announceAgentChange(client, { agent_id: agentId, change: 'enrolled' });
    await appendAudit(client, { projectId: key.project_id, actor: 'router', event: 'agent.enrolled', subject: agentId, detail: { join_key_id: key.id, registration_name: request.registration_name, from } });
    return { projectId: key.project_id, superseded };
  });
  if (!enrolled) {
    const refusal = await explainJoinKeyRefusal(pool, hash, request.role);
    await appendAudit(pool, {
      projectId: refusal.key?.project_id ?? null, actor: 'router', event: 'agent.enrollment_refused', subject: refusal.key?.id ?? null,
      detail: { reason: refusal.reason, join_key_id: refusal.key?.id ?? null, registration_name: request.registration_name, from },
    });
    return { ok: false };
  }
  const { token, expiresAt } = await settings.tokens.issue({ agentId, projectId: enrolled.projectId, role: request.role });
  const keys: AgentKeys = { id: agentId, project_id: enrolled.projectId, role: request.role, curve_public_key: curveKey, signing_public_key: signingKey };
  return { ok: true, agentId, projectId: enrolled.projectId, keys, superseded: enrolled.superseded, token, expiresAt };
}

/** A fresh token for a live agent holding a valid one; undefined when refused. */
export async function refreshAgentToken(pool: Pool, tokens: AgentTokens, presented: string): Promise<{ token: string; expiresAt: Date } | undefined> {
  const claims = await tokens.verify(presented).catch(() => undefined);
  if (!claims) return undefined;
  const agent = await findAgentById(pool, claims.agentId);
  if (!agent || agent.status === 'revoked' || agent.status === 'superseded') return undefined;
  if (claims.issuedAt * 1_000 < Math.floor(agent.tokens_valid_after.getTime() / 1_000) * 1_000) return undefined;
  return tokens.issue({ agentId: agent.id, projectId: agent.project_id, role: agent.role });
}
