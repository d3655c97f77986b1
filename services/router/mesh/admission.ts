import type { KeyObject } from 'node:crypto';
import { signingPublicKey } from '../../protocol/signing.js';

/** An enrolled, non-revoked agent the mesh may admit. */
export interface AdmittedAgent {
  readonly id: string;
  readonly projectId: string;
  readonly role: 'xem' | 'xim';
  readonly curveKeyHex: string;
  /** Verification key for the agent's frame signatures (built once; it costs a verify). */
  readonly signingKey: KeyObject;
}

export interface AgentKeys {
  readonly id: string;
  readonly project_id: string;
  readonly role: 'xem' | 'xim';
  readonly curve_public_key: Buffer;
  readonly signing_public_key: Buffer;
}

/**
 * Who may complete a CURVE handshake: the ZAP handler asks by key, the mesh by agent id. Kept
 * in memory so a handshake never waits on the database; refreshed from it and updated at once
 * on enrollment and revocation in this process.
 */
export interface Admission {
  agentByCurveKey(keyHex: string): AdmittedAgent | undefined;
  agent(agentId: string): AdmittedAgent | undefined;
  admit(keys: AgentKeys): AdmittedAgent;
  revoke(agentId: string): void;
  /** Replaces the whole set (periodic refresh); returns ids that were dropped. */
  replaceAll(list: readonly AgentKeys[]): string[];
  readonly size: number;
}

export function createAdmission(): Admission {
  const byCurve = new Map<string, AdmittedAgent>();
  const byId = new Map<string, AdmittedAgent>();
  const toAdmitted = (keys: AgentKeys): AdmittedAgent => ({
    id: keys.id,
    projectId: keys.project_id,
    role: keys.role,
    curveKeyHex: keys.curve_public_key.toString('hex'),
    signingKey: byId.get(keys.id)?.signingKey ?? signingPublicKey(keys.signing_public_key),
  });
  const admission: Admission = {
    agentByCurveKey: (keyHex) => byCurve.get(keyHex),
    agent: (agentId) => byId.get(agentId),
    admit(keys) {
      const agent = toAdmitted(keys);
      admission.revoke(agent.id);
      byCurve.set(agent.curveKeyHex, agent);
      byId.set(agent.id, agent);
      return agent;
    },
    revoke(agentId) {
      const agent = byId.get(agentId);
      if (!agent) return;
      byId.delete(agentId);
      if (byCurve.get(agent.curveKeyHex)?.id === agentId) byCurve.delete(agent.curveKeyHex);
    },
    replaceAll(list) {
      const keep = new Set(list.map((keys) => keys.id));
      const dropped = [...byId.keys()].filter((id) => !keep.has(id));
      for (const id of dropped) admission.revoke(id);
      for (const keys of list)
        if (byId.get(keys.id)?.curveKeyHex !== keys.curve_public_key.toString('hex')) admission.admit(keys);
      return dropped;
    },
    get size() {
      return byId.size;
    },
  };
  return admission;
}
