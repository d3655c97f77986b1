import type { Logger } from '../../runtime/logger.js';
import type { AdmittedAgent } from '../mesh/admission.js';
import { appendAudit } from '../store/audit-log.js';
import type { Queryable } from '../store/db.js';

export interface Refusal {
  /** The frame type refused (exec.result, infer.chunk, …). */
  readonly type: string;
  /** Why: stale_attempt, not_the_dispatched_agent, unknown_invocation, not_your_stream. */
  readonly reason: string;
  /** The invocation or inference request the frame claimed to be about. */
  readonly subject: string;
  readonly attempt?: number;
  /** The project the subject belongs to, when known (it may be another than the agent's). */
  readonly subjectProjectId?: string;
}

export interface FrameRefusalOptions {
  readonly db: Queryable;
  readonly logger: Logger;
  /** Every refusal, for the metric. */
  readonly count?: (type: string, reason: string) => void;
  readonly now?: () => number;
  /** One audit entry per agent, frame type and reason per this long; the rest are counted in it. @default 60000 */
  readonly auditEveryMs?: number;
}

/**
 * Reports an agent may not make (about a call or stream it does not hold) are refused before
 * anything is stored or streamed, and each refusal is counted. They are audited too, but at most
 * once a minute per agent, frame type and reason, with the number suppressed since: a hostile
 * agent cannot flood the audit log, and an honest one late with a stale attempt leaves a trace.
 */
export class FrameRefusals {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly options: FrameRefusalOptions) {}

  async refuse(agent: AdmittedAgent, refusal: Refusal): Promise<{ status: 'rejected'; reason: string }> {
    this.options.count?.(refusal.type, refusal.reason);
    const key = `${agent.id}/${refusal.type}/${refusal.reason}`;
    const now = (this.options.now ?? Date.now)();
    const seen = this.last.get(key);
    if (seen && now - seen.at < (this.options.auditEveryMs ?? 60_000)) {
      seen.suppressed += 1;
    } else {
      if (this.last.size > 10_000) this.last.clear();
      this.last.set(key, { at: now, suppressed: 0 });
      await this.audit(agent, refusal, seen?.suppressed ?? 0);
    }
    return { status: 'rejected', reason: `refused: ${refusal.reason}` };
  }

  private async audit(agent: AdmittedAgent, refusal: Refusal, suppressed: number): Promise<void> {
    const onInvocation = refusal.type.startsWith('exec.');
    const detail = {
      type: refusal.type,
      reason: refusal.reason,
      agent_id: agent.id,
      agent_project_id: agent.projectId,
      ...(refusal.attempt === undefined ? {} : { attempt: refusal.attempt }),
      suppressed_since_last: suppressed,
    };
    this.options.logger.warning(
      { ...detail, subject: refusal.subject },
      'refused a report from an agent that does not hold it',
    );
    await appendAudit(this.options.db, {
      projectId: refusal.subjectProjectId ?? agent.projectId,
      actor: `agent:${agent.id}`,
      event: onInvocation ? `invocation.${refusal.type.slice('exec.'.length)}_refused` : 'agent.frame_refused',
      subject: onInvocation ? refusal.subject : agent.id,
      detail: onInvocation ? detail : { ...detail, request_id: refusal.subject },
    }).catch((error: unknown) => this.options.logger.error({ err: error }, 'could not audit a refused agent report'));
  }
}
