import { INVOCATION_STATES } from '../exec/invocation-state.js';
import type { CatalogTool } from '../exec/tool-catalog.js';
import type { ApprovalDecision, ApprovalRecord } from '../store/approvals.js';
import type { AuditRecord } from '../store/audit-log.js';
import type { InvocationRecord } from '../store/invocations.js';

// What the exec API shows: allowlisted fields only, dates as ISO strings.

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function toolView(tool: CatalogTool, workspaceId: string) {
  return {
    object: 'tool' as const,
    name: tool.name,
    workspace_id: workspaceId,
    description: tool.description,
    risk: tool.risk,
    declared_risk: tool.declared_risk,
    risk_override: tool.override,
    domain: tool.domain ?? null,
    bundle: tool.bundle ?? null,
    bundle_version: tool.bundle_version ?? null,
    parameters: tool.parameters,
    timeout_ms: tool.timeout_ms,
    requires_approval: tool.risk === 'destructive' || tool.risk === 'irreversible',
    online_agents: tool.online_agents,
    agents: tool.agents.map((offer) => ({
      agent_id: offer.agent_id,
      status: offer.status,
      risk: offer.risk,
      available: offer.available,
    })),
    conflict: tool.conflict
      ? {
          fields: tool.conflict.fields,
          offers: tool.conflict.offers.map(({ agent_id, risk, bundle_version, parameters_sha256 }) => ({
            agent_id,
            risk,
            bundle_version,
            parameters_sha256,
          })),
        }
      : null,
  };
}

export function invocationView(
  invocation: InvocationRecord,
  extra: { approval_id?: string | null; history?: readonly AuditRecord[] } = {},
) {
  return {
    object: 'invocation' as const,
    id: invocation.id,
    workspace_id: invocation.workspace_id,
    tool: invocation.tool,
    risk: invocation.risk,
    args: invocation.args,
    state: invocation.state,
    attempt: invocation.attempt,
    agent_id: invocation.agent_id,
    requested_by: invocation.requested_by,
    requested_by_principal: invocation.requested_by_principal,
    origin: invocation.origin,
    timeout_ms: invocation.timeout_ms,
    result: invocation.result,
    ...(extra.approval_id !== undefined ? { approval_id: extra.approval_id } : {}),
    created_at: invocation.created_at.toISOString(),
    updated_at: invocation.updated_at.toISOString(),
    queued_at: iso(invocation.queued_at),
    dispatched_at: iso(invocation.dispatched_at),
    finished_at: iso(invocation.finished_at),
    ...(extra.history ? { history: extra.history.filter(isStateChange).map(historyView) } : {}),
  };
}

const STATES: ReadonlySet<string> = new Set(INVOCATION_STATES);
const isStateChange = (entry: AuditRecord) =>
  entry.event.startsWith('invocation.') && STATES.has(entry.event.slice('invocation.'.length));

function historyView(entry: AuditRecord) {
  const detail = entry.detail as { cause?: string; attempt?: number; reason?: string };
  return {
    state: entry.event.slice('invocation.'.length),
    at: entry.at.toISOString(),
    actor: entry.actor,
    cause: detail.cause ?? null,
    attempt: detail.attempt ?? null,
    ...(detail.reason ? { reason: detail.reason } : {}),
  };
}

type DecisionRow = ApprovalDecision & { principal_name: string; principal_kind: string };

/** An approval and, when given, each person's decision so far (who, through which key and channel). */
export function approvalView(approval: ApprovalRecord, decisions: readonly DecisionRow[] = []) {
  return {
    object: 'approval' as const,
    id: approval.id,
    invocation_id: approval.invocation_id,
    workspace_id: approval.workspace_id,
    risk: approval.risk,
    state: approval.state,
    stage: approval.stage,
    request_hash: approval.request_hash,
    requested_by: approval.requested_by,
    requested_by_principal: approval.requested_by_principal,
    origin: approval.origin,
    min_approvers: approval.min_approvers,
    expires_at: approval.expires_at.toISOString(),
    decided_by: approval.decided_by,
    decided_at: iso(approval.decided_at),
    note: approval.note,
    decisions: decisions
      .filter((decision) => decision.approval_id === approval.id)
      .map((decision) => ({
        principal: { id: decision.principal_id, kind: decision.principal_kind, display_name: decision.principal_name },
        key_id: decision.key_id,
        channel: decision.channel,
        verdict: decision.verdict,
        note: decision.note,
        at: decision.at.toISOString(),
      })),
    created_at: approval.created_at.toISOString(),
  };
}

export function auditView(entry: AuditRecord) {
  return {
    object: 'audit_entry' as const,
    position: Number(entry.position),
    at: entry.at.toISOString(),
    actor: entry.actor,
    event: entry.event,
    subject: entry.subject,
    detail: entry.detail,
    signed: entry.signature !== null,
  };
}
