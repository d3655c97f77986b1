import { curveKeyBytes } from '../../protocol/curve-keys.js';
import type { AgentTokens } from '../auth/agent-tokens.js';
import { joinKeyHash } from '../auth/secrets.js';
import { announceAgentChange } from '../mesh/agent-changes.js';
import type { AgentKeys } from '../mesh/admission.js';
import { appendAudit } from '../store/audit-log.js';
import { findAgentById, insertAgent, lockCollidingAgents, supersedeAgents } from '../store/agents.js';
import { withTransaction } from '../store/db.js';
import { newId } from '../store/ids.js';
import { consumeJoinKey, explainJoinKeyRefusal, type JoinKeyRecord } from '../store/join-keys.js';
import { decideEnrollment, type EnrollmentRefusal } from './replacement.js';
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
  /** Where agents dial the mesh: read when asked, since a `*` port is resolved only once the mesh binds. */
  meshEndpoint(): string;
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
  /** The join key is not valid: the caller learns nothing more. */
  | { readonly ok: false; readonly refusal?: undefined }
  /** A valid key, but this enrollment would take over a live identity the key may not replace. */
  | { readonly ok: false; readonly refusal: EnrollmentRefusal };

/** Thrown inside the enrolling transaction to roll it back (the key stays unspent). */
class Refused extends Error {
  constructor(
    readonly refusal: EnrollmentRefusal,
    readonly key: JoinKeyRecord,
  ) {
    super(refusal);
  }
}

/**
 * Spends the join key and records the agent in one transaction. Taking over a live agent's name
 * or CURVE key needs a key minted to allow it, and stays inside the key's project; every
 * replacement is audited. Invalid keys say nothing to the caller and everything to the audit
 * trail; a valid key refused for a collision is not spent.
 */
export async function enrollAgent(
  pool: Pool,
  settings: EnrollmentSettings,
  request: EnrollmentRequest,
  from: string,
): Promise<EnrollmentOutcome> {
  const hash = joinKeyHash(request.join_key);
  if (!hash) {
    await appendAudit(pool, {
      projectId: null,
      actor: 'router',
      event: 'agent.enrollment_refused',
      detail: { reason: 'malformed', from },
    });
    return { ok: false };
  }
  const agentId = newId('agt');
  const curveKey = Buffer.from(curveKeyBytes(request.curve_public_key));
  const signingKey = Buffer.from(request.signing_public_key, 'hex');
  let enrolled: { projectId: string; superseded: string[] } | undefined;
  try {
    enrolled = await withTransaction(pool, async (client) => {
      const key = await consumeJoinKey(client, hash, request.role, agentId);
      if (!key) return undefined;
      const decision = decideEnrollment(
        key,
        { registration_name: request.registration_name, curve_public_key: curveKey },
        await lockCollidingAgents(client, key.project_id, request.registration_name, curveKey),
      );
      if ('refusal' in decision) throw new Refused(decision.refusal, key);
      const superseded = await supersedeAgents(client, key.project_id, decision.replace);
      await insertAgent(client, {
        id: agentId,
        projectId: key.project_id,
        role: request.role,
        registrationName: request.registration_name,
        region: key.region,
        joinKeyId: key.id,
        signingPublicKey: signingKey,
        curvePublicKey: curveKey,
        manifest: request.manifest ?? null,
        scope: key.scope,
      });
      for (const old of superseded) {
        await appendAudit(client, {
          projectId: key.project_id,
          actor: 'router',
          event: 'agent.superseded',
          subject: old,
          detail: { by: agentId, join_key_id: key.id, registration_name: request.registration_name, from },
        });
        await announceAgentChange(client, { agent_id: old, change: 'superseded' });
      }
      await announceAgentChange(client, { agent_id: agentId, change: 'enrolled' });
      await appendAudit(client, {
        projectId: key.project_id,
        actor: 'router',
        event: 'agent.enrolled',
        subject: agentId,
        detail: {
          join_key_id: key.id,
          registration_name: request.registration_name,
          from,
          replaced: superseded,
          ...(key.scope === 'platform' ? { scope: 'platform' } : {}),
        },
      });
      return { projectId: key.project_id, superseded };
    });
  } catch (caught) {
    const error = await asRefusal(pool, caught, hash, request.role);
    await appendAudit(pool, {
      projectId: error.key.project_id,
      actor: 'router',
      event: 'agent.enrollment_refused',
      subject: error.key.id,
      detail: { reason: error.refusal, join_key_id: error.key.id, registration_name: request.registration_name, from },
    });
    return { ok: false, refusal: error.refusal };
  }
  if (!enrolled) {
    const refusal = await explainJoinKeyRefusal(pool, hash, request.role);
    await appendAudit(pool, {
      projectId: refusal.key?.project_id ?? null,
      actor: 'router',
      event: 'agent.enrollment_refused',
      subject: refusal.key?.id ?? null,
      detail: {
        reason: refusal.reason,
        join_key_id: refusal.key?.id ?? null,
        registration_name: request.registration_name,
        from,
      },
    });
    return { ok: false };
  }
  const { token, expiresAt } = await settings.tokens.issue({
    agentId,
    projectId: enrolled.projectId,
    role: request.role,
  });
  const keys: AgentKeys = {
    id: agentId,
    project_id: enrolled.projectId,
    role: request.role,
    curve_public_key: curveKey,
    signing_public_key: signingKey,
  };
  return { ok: true, agentId, projectId: enrolled.projectId, keys, superseded: enrolled.superseded, token, expiresAt };
}

/** A refusal thrown in the transaction, or a concurrent enrollment that won the same name (23505). */
async function asRefusal(pool: Pool, error: unknown, hash: Buffer, role: string): Promise<Refused> {
  if (error instanceof Refused) return error;
  const key =
    (error as { code?: string }).code === '23505' ? (await explainJoinKeyRefusal(pool, hash, role)).key : undefined;
  if (!key) throw error;
  return new Refused('registration_name_in_use', key);
}

export type RefreshRefusal = 'invalid_token' | 'agent_revoked' | 'agent_superseded';

/**
 * A fresh token for a live agent holding a valid one. A refusal says which: an agent told it was
 * revoked or replaced stops and says so; any other refusal is a bad token.
 */
export async function refreshAgentToken(
  pool: Pool,
  tokens: AgentTokens,
  presented: string,
): Promise<{ token: string; expiresAt: Date } | { refusal: RefreshRefusal }> {
  const claims = await tokens.verify(presented).catch(() => undefined);
  if (!claims) return { refusal: 'invalid_token' };
  const agent = await findAgentById(pool, claims.agentId);
  if (!agent) return { refusal: 'invalid_token' };
  if (agent.status === 'superseded') return { refusal: 'agent_superseded' };
  if (agent.status === 'revoked') return { refusal: 'agent_revoked' };
  if (claims.issuedAt * 1_000 < Math.floor(agent.tokens_valid_after.getTime() / 1_000) * 1_000)
    return { refusal: 'agent_revoked' };
  return tokens.issue({ agentId: agent.id, projectId: agent.project_id, role: agent.role });
}
