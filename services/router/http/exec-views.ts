import type { CatalogTool } from '../exec/tool-catalog.js';
import type { ApprovalRecord } from '../store/approvals.js';
import type { AuditRecord } from '../store/audit-log.js';
import type { InvocationRecord } from '../store/invocations.js';

// What the exec API shows: allowlisted fields only, dates as ISO strings.

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function toolView(tool: CatalogTool) {
  return {
    object: 'tool' as const, name: tool.name, description: tool.description, risk: tool.risk, domain: tool.domain ?? null, bundle: tool.bundle ?? null,
    parameters: tool.parameters, timeout_ms: tool.timeout_ms, requires_approval: tool.risk === 'destructive' || tool.risk === 'irreversible',
    online_agents: tool.online_agents, workspaces: [...new Set(tool.agents.flatMap((agent) => agent.workspaces))].sort(),
  };
}

export function invocationView(invocation: InvocationRecord, extra: { approval_id?: string | null; history?: readonly AuditRecord[] } = {}) {
  return {
    object: 'invocation' as const, id: invocation.id, workspace_id: invocation.workspace_id, tool: invocation.tool, risk: invocation.risk, args: invocation.args,
    state: invocation.state, attempt: invocation.attempt, agent_id: invocation.agent_id, requested_by: invocation.requested_by, timeout_ms: invocation.timeout_ms,
    result: invocation.result, ...(extra.approval_id !== undefined ? { approval_id: extra.approval_id } : {}),
    created_at: invocation.created_at.toISOString(), updated_at: invocation.updated_at.toISOString(), queued_at: iso(invocation.queued_at),
    dispatched_at: iso(invocation.dispatched_at), finished_at: iso(invocation.finished_at),
    ...(extra.history ? { history: extra.history.filter((entry) => entry.event.startsWith('invocation.')).map(historyView) } : {}),
  };
}

function historyView(entry: AuditRecord) {
  const detail = entry.detail as { cause?: string; attempt?: number; reason?: string };
  return { state: entry.event.slice('invocation.'.length), at: entry.at.toISOString(), actor: entry.actor, cause: detail.cause ?? null, attempt: detail.attempt ?? null, ...(detail.reason ? { reason: detail.reason } : {}) };
}

export function approvalView(approval: ApprovalRecord) {
  return {
    object: 'approval' as const, id: approval.id, invocation_id: approval.invocation_id, workspace_id: approval.workspace_id, risk: approval.risk,
    state: approval.state, stage: approval.stage, request_hash: approval.request_hash, requested_by: approval.requested_by,
    expires_at: approval.expires_at.toISOString(), decided_by: approval.decided_by, decided_at: iso(approval.decided_at), note: approval.note,
    created_at: approval.created_at.toISOString(),
  };
}

export function auditView(entry: AuditRecord) {
  return {
    object: 'audit_entry' as const, position: Number(entry.position), at: entry.at.toISOString(), actor: entry.actor, event: entry.event,
    subject: entry.subject, detail: entry.detail, signed: entry.signature !== null,
  };
}
