import type { FrameBody, FrameType } from '../../protocol/frame-bodies.js';
import type { Logger } from '../../runtime/logger.js';
import type { FrameHandler } from '../mesh/server.js';
import type { Transactor } from '../store/batcher.js';
import { withTransaction } from '../store/db.js';
import { recordExecResult, recordOutputChunk } from '../store/exec-results.js';
import type { InvocationResultSummary } from '../store/invocations.js';
import type { Pool } from '../store/pool.js';
import { advanceExpected } from './advance.js';
import { publishExecEvents } from './exec-events.js';

export interface ExecFrameEvents {
  /** Hooks for tests and metrics; the exec API itself learns through the database. */
  readonly accepted?: (agentId: string, invocationId: string, attempt: number) => void;
  readonly progress?: (agentId: string, invocationId: string, attempt: number, data: string, stream: FrameBody<'exec.progress'>['stream']) => void;
  readonly result?: (agentId: string, invocationId: string, attempt: number, recorded: boolean) => void;
}

/**
 * The router's handlers for what XEM agents report. A result is acknowledged only once it and
 * the invocation's transition are in the database, so the agent's outbox keeps it until then;
 * recording is idempotent by invocation attempt, and a report for an attempt that is no longer
 * current (or from another agent) is fenced: stored and audited, never applied.
 */
export function execFrameHandlers(pool: Pool, logger: Logger, events: ExecFrameEvents = {}, transact: Transactor = (work) => withTransaction(pool, work)): Partial<Record<FrameType, FrameHandler>> {
  const actor = (agentId: string) => `agent:${agentId}`;
  return {
    'exec.accepted': async (agent, frame) => {
      if (frame.type !== 'exec.accepted') return { status: 'rejected', reason: 'not an acceptance' };
      const { invocation_id: id, attempt } = frame.body;
      const expected = { state: 'dispatched' as const, attempt, projectId: agent.projectId, agentId: agent.id };
      await transact((client) => advanceExpected(client, id, expected, { type: 'accepted', attempt }, { actor: actor(agent.id), agentId: agent.id }));
      events.accepted?.(agent.id, id, attempt);
      return { status: 'ok' };
    },
    'exec.progress': async (agent, frame) => {
      if (frame.type !== 'exec.progress') return { status: 'rejected', reason: 'not progress' };
      const { invocation_id: id, attempt, data, stream } = frame.body;
      await publishExecEvents(pool, [{ kind: 'progress', project_id: agent.projectId, invocation_id: id, attempt, stream, data }]);
      events.progress?.(agent.id, id, attempt, data, stream);
      return { status: 'ok' };
    },
    'exec.output': async (agent, frame) => {
      if (frame.type !== 'exec.output') return { status: 'rejected', reason: 'not an output chunk' };
      await recordOutputChunk(pool, agent.id, frame.body);
      return { status: 'ok' };
    },
    'exec.result': async (agent, frame) => {
      if (frame.type !== 'exec.result') return { status: 'rejected', reason: 'not a result' };
      const { body } = frame;
      const signature = frame.sig ? Buffer.from(frame.sig).toString('base64') : null;
      const recorded = await transact(async (client) => {
        const fresh = await recordExecResult(client, { agentId: agent.id, projectId: agent.projectId, frameId: frame.id, signature, body });
        if (fresh) {
          const expected = { state: 'running' as const, attempt: body.attempt, projectId: agent.projectId, agentId: agent.id };
          await advanceExpected(client, body.invocation_id, expected, { type: 'result', attempt: body.attempt, outcome: body.status }, {
            actor: actor(agent.id), agentId: agent.id, signature, result: summary(body),
          });
        }
        return fresh;
      });
      if (!recorded) logger.info({ agent_id: agent.id, invocation_id: body.invocation_id, attempt: body.attempt }, 'result already recorded; acknowledged again');
      events.result?.(agent.id, body.invocation_id, body.attempt, recorded);
      return { status: 'ok' };
    },
  };
}

function summary(body: FrameBody<'exec.result'>): InvocationResultSummary {
  return {
    status: body.status, exit_code: body.exit_code, duration_ms: body.duration_ms, output_bytes: Buffer.byteLength(body.output),
    output_truncated: body.output_truncated, error: body.error ?? null,
  };
}
