import type { FrameBody, FrameType } from '../../protocol/frame-bodies.js';
import type { Logger } from '../../runtime/logger.js';
import type { FrameHandler } from '../mesh/server.js';
import { recordExecResult, recordOutputChunk } from '../store/exec-results.js';
import type { Pool } from '../store/pool.js';

export interface ExecFrameEvents {
  /** Hooks for the exec API (live progress, state transitions); tests listen here too. */
  readonly accepted?: (agentId: string, invocationId: string, attempt: number) => void;
  readonly progress?: (agentId: string, invocationId: string, attempt: number, data: string, stream: FrameBody<'exec.progress'>['stream']) => void;
  readonly result?: (agentId: string, invocationId: string, attempt: number, recorded: boolean) => void;
}

/**
 * The router's handlers for what XEM agents report. A result is acknowledged only once it is
 * in the database, so the agent's outbox keeps it until then; recording is idempotent by
 * invocation attempt, so resends after either side crashed change nothing.
 */
export function execFrameHandlers(pool: Pool, logger: Logger, events: ExecFrameEvents = {}): Partial<Record<FrameType, FrameHandler>> {
  return {
    'exec.accepted': async (agent, frame) => {
      if (frame.type === 'exec.accepted') events.accepted?.(agent.id, frame.body.invocation_id, frame.body.attempt);
      return { status: 'ok' };
    },
    'exec.progress': async (agent, frame) => {
      if (frame.type === 'exec.progress') events.progress?.(agent.id, frame.body.invocation_id, frame.body.attempt, frame.body.data, frame.body.stream);
      return { status: 'ok' };
    },
    'exec.output': async (agent, frame) => {
      if (frame.type !== 'exec.output') return { status: 'rejected', reason: 'not an output chunk' };
      await recordOutputChunk(pool, agent.id, frame.body);
      return { status: 'ok' };
    },
    'exec.result': async (agent, frame) => {
      if (frame.type !== 'exec.result') return { status: 'rejected', reason: 'not a result' };
      const recorded = await recordExecResult(pool, {
        agentId: agent.id, projectId: agent.projectId, frameId: frame.id, signature: frame.sig ? Buffer.from(frame.sig).toString('base64') : null, body: frame.body,
      });
      if (!recorded) logger.info({ agent_id: agent.id, invocation_id: frame.body.invocation_id, attempt: frame.body.attempt }, 'result already recorded; acknowledged again');
      events.result?.(agent.id, frame.body.invocation_id, frame.body.attempt, recorded);
      return { status: 'ok' };
    },
  };
}
