import { createHmac } from 'node:crypto';

/** The exec event catalogue (research/xem-spec.md §12) that endpoints can subscribe to. */
export const WEBHOOK_EVENT_TYPES = [
  'exec.dispatched',
  'exec.completed',
  'exec.failed',
  'exec.timeout',
  'exec.ambiguous',
  'exec.approval_requested',
  'exec.approved',
  'exec.rejected',
  'exec.approval_escalated',
  'exec.approval_timed_out',
  'exec.agent_enrolled',
  'exec.agent_offline',
  // Signed checkpoints of the audit chain (audit/checkpointer.ts), for receivers that keep them outside the database.
  'audit.checkpoint',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const FROM_AUDIT: Readonly<Record<string, WebhookEventType>> = {
  'invocation.dispatched': 'exec.dispatched',
  'invocation.succeeded': 'exec.completed',
  'invocation.failed': 'exec.failed',
  'invocation.timed_out': 'exec.timeout',
  'invocation.ambiguous': 'exec.ambiguous',
  'approval.requested': 'exec.approval_requested',
  'approval.approved': 'exec.approved',
  'approval.rejected': 'exec.rejected',
  'approval.escalated': 'exec.approval_escalated',
  'approval.expired': 'exec.approval_timed_out',
  'agent.enrolled': 'exec.agent_enrolled',
  'agent.lease_stale': 'exec.agent_offline',
};

/** An audit entry as the webhook scanner reads it, with the invocation it concerns when there is one. */
export interface AuditFact {
  readonly position: string;
  readonly at: Date;
  /** Who acted: a principal (usr_/sa_), an agent, the router. */
  readonly actor: string;
  readonly event: string;
  readonly subject: string | null;
  readonly detail: Record<string, unknown>;
  readonly invocation: { id: string; tool: string; workspace_id: string } | null;
}

export interface WebhookEvent {
  readonly id: string;
  readonly object: 'event';
  readonly type: WebhookEventType;
  readonly created_at: string;
  readonly data: Record<string, unknown>;
}

/** The webhook event an audit entry becomes, if any. Pure; ids are stable per entry (receivers dedupe on them). */
export function webhookEventFor(fact: AuditFact): WebhookEvent | undefined {
  const type = FROM_AUDIT[fact.event];
  if (!type) return undefined;
  const detail = fact.detail as {
    attempt?: number;
    agent_id?: string;
    result?: unknown;
    invocation_id?: string;
    reason?: string;
    note?: string;
    stage?: number;
    via?: { key_id: string; channel: string };
  };
  const subjectKey = fact.event.startsWith('agent.')
    ? 'agent_id'
    : fact.event.startsWith('approval.')
      ? 'approval_id'
      : 'invocation_id';
  const data: Record<string, unknown> = {
    [subjectKey]: fact.subject,
    ...(fact.invocation
      ? {
          invocation_id: fact.invocation.id,
          tool_name: fact.invocation.tool,
          workspace_id: fact.invocation.workspace_id,
        }
      : {}),
    ...(detail.invocation_id && !fact.invocation ? { invocation_id: detail.invocation_id } : {}),
    ...(detail.attempt !== undefined ? { attempt: detail.attempt } : {}),
    ...(detail.agent_id && subjectKey !== 'agent_id' ? { agent_id: detail.agent_id } : {}),
    ...(detail.result ? { result: detail.result } : {}),
    ...(detail.reason ? { reason: detail.reason } : {}),
    ...(detail.stage ? { stage: detail.stage } : {}),
    // The person (or service account) who asked, approved or rejected, and how.
    ...(/^(usr|sa)_/.test(fact.actor) ? { principal_id: fact.actor, ...(detail.via ? { via: detail.via } : {}) } : {}),
  };
  return {
    id: `evt_${BigInt(fact.position).toString(16).padStart(16, '0')}`,
    object: 'event',
    type,
    created_at: fact.at.toISOString(),
    data,
  };
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: what receivers check. */
export function signatureHeader(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

const BACKOFF_S = [5, 30, 120, 600, 1_800, 3_600, 7_200, 14_400];

/** Seconds before the next try after `attempts` failed ones; undefined once the schedule is spent. */
export function retryDelaySeconds(attempts: number): number | undefined {
  return BACKOFF_S[attempts - 1];
}
