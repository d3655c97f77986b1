import type { FrameBody, FrameType } from '../../protocol/frame-bodies.js';
import type { AnyFrame } from '../../protocol/frame.js';
import type { Logger } from '../../runtime/logger.js';
import { inSpan } from '../../runtime/tracing.js';
import type { AdmittedAgent } from '../mesh/admission.js';
import type { FrameHandler } from '../mesh/server.js';
import type { Transactor } from '../store/batcher.js';
import { withTransaction } from '../store/db.js';
import { findAttemptOwner, recordExecResult, recordOutputChunk } from '../store/exec-results.js';
import type { InvocationResultSummary } from '../store/invocations.js';
import type { Pool } from '../store/pool.js';
import { advanceExpected } from './advance.js';
import { AttemptOwners } from './attempt-owners.js';
import { publishExecEvents } from './exec-events.js';
import { FrameRefusals } from './frame-refusals.js';

export interface ExecFrameEvents {
  /** Hooks for tests and metrics; the exec API itself learns through the database. */
  readonly accepted?: (agentId: string, invocationId: string, attempt: number) => void;
  readonly progress?: (
    agentId: string,
    invocationId: string,
    attempt: number,
    data: string,
    stream: FrameBody<'exec.progress'>['stream'],
  ) => void;
  readonly result?: (agentId: string, invocationId: string, attempt: number, recorded: boolean) => void;
}

export interface ExecFrameDependencies {
  readonly pool: Pool;
  readonly logger: Logger;
  readonly events?: ExecFrameEvents;
  /** Group commit for reports; a plain transaction each when unset. */
  readonly transact?: Transactor;
  readonly owners?: AttemptOwners;
  readonly refusals?: FrameRefusals;
}

type Outcome = Awaited<ReturnType<FrameHandler>>;
type ExecFrame = Extract<AnyFrame, { type: 'exec.accepted' | 'exec.progress' | 'exec.output' | 'exec.result' }>;

/**
 * The router's handlers for what XEM agents report. Every report is first checked against the
 * invocation row: only the agent holding the current attempt, of the invocation's own project,
 * may report on it. Anything else is refused, counted and audited before anything is stored or
 * streamed, so a forged or stale report can never block the real one. A result is acknowledged
 * only once it and the transition are in the database (the agent's outbox keeps it until then);
 * recording is idempotent by invocation attempt.
 */
export function execFrameHandlers(deps: ExecFrameDependencies): Partial<Record<FrameType, FrameHandler>> {
  const { pool, logger, events = {} } = deps;
  const transact: Transactor = deps.transact ?? ((work) => withTransaction(pool, work));
  const owners = deps.owners ?? new AttemptOwners((id) => findAttemptOwner(pool, id));
  const refusals = deps.refusals ?? new FrameRefusals({ db: pool, logger });
  const actor = (agentId: string) => `agent:${agentId}`;
  // Checks ownership, then runs the handler body; a report the agent does not own is refused.
  const owned =
    (run: (agent: AdmittedAgent, frame: ExecFrame) => Promise<Outcome>): FrameHandler =>
    async (agent, frame) => {
      const body = frame.body as { invocation_id?: string; attempt?: number };
      if (typeof body.invocation_id !== 'string' || typeof body.attempt !== 'number')
        return { status: 'rejected', reason: 'not an exec report' };
      const verdict = await owners.check(agent, body.invocation_id, body.attempt);
      if (verdict === 'current') return run(agent, frame as ExecFrame);
      return refusals.refuse(agent, {
        type: frame.type,
        reason: verdict,
        subject: body.invocation_id,
        attempt: body.attempt,
      });
    };
  return {
    'exec.accepted': owned(async (agent, frame) => {
      if (frame.type !== 'exec.accepted') return { status: 'rejected', reason: 'not an acceptance' };
      const { invocation_id: id, attempt } = frame.body;
      const expected = { state: 'dispatched' as const, attempt, projectId: agent.projectId, agentId: agent.id };
      await transact((client) =>
        advanceExpected(
          client,
          id,
          expected,
          { type: 'accepted', attempt },
          { actor: actor(agent.id), agentId: agent.id },
        ),
      );
      events.accepted?.(agent.id, id, attempt);
      return { status: 'ok' };
    }),
    'exec.progress': owned(async (agent, frame) => {
      if (frame.type !== 'exec.progress') return { status: 'rejected', reason: 'not progress' };
      const { invocation_id: id, attempt, data, stream } = frame.body;
      await publishExecEvents(pool, [
        { kind: 'progress', project_id: agent.projectId, invocation_id: id, attempt, stream, data },
      ]);
      events.progress?.(agent.id, id, attempt, data, stream);
      return { status: 'ok' };
    }),
    'exec.output': owned(async (agent, frame) => {
      if (frame.type !== 'exec.output') return { status: 'rejected', reason: 'not an output chunk' };
      await recordOutputChunk(pool, { id: agent.id, projectId: agent.projectId }, frame.body);
      return { status: 'ok' };
    }),
    'exec.result': owned(async (agent, frame) =>
      inSpan(
        'exec.result',
        frame.trace,
        async () => {
          if (frame.type !== 'exec.result') return { status: 'rejected', reason: 'not a result' };
          const { body } = frame;
          const signature = frame.sig ? Buffer.from(frame.sig).toString('base64') : null;
          const recording = await transact(async (client) => {
            const recorded = await recordExecResult(client, {
              agentId: agent.id,
              projectId: agent.projectId,
              frame: { id: frame.id, v: frame.v, ts: frame.ts },
              signature,
              body,
            });
            if (recorded === 'recorded') {
              const expected = {
                state: 'running' as const,
                attempt: body.attempt,
                projectId: agent.projectId,
                agentId: agent.id,
              };
              await advanceExpected(
                client,
                body.invocation_id,
                expected,
                { type: 'result', attempt: body.attempt, outcome: body.status },
                {
                  actor: actor(agent.id),
                  agentId: agent.id,
                  signature,
                  result: summary(body),
                },
              );
            }
            return recorded;
          });
          // Between the ownership check and the insert another attempt began: stale after all.
          if (recording === 'not_owner')
            return refusals.refuse(agent, {
              type: frame.type,
              reason: 'stale_attempt',
              subject: body.invocation_id,
              attempt: body.attempt,
            });
          if (recording === 'duplicate')
            logger.info(
              { agent_id: agent.id, invocation_id: body.invocation_id, attempt: body.attempt },
              'result already recorded; acknowledged again',
            );
          events.result?.(agent.id, body.invocation_id, body.attempt, recording === 'recorded');
          return { status: 'ok' as const };
        },
        { 'xerotier.invocation_id': frame.body.invocation_id, 'xerotier.agent_id': agent.id },
      ),
    ),
  };
}

function summary(body: FrameBody<'exec.result'>): InvocationResultSummary {
  return {
    status: body.status,
    exit_code: body.exit_code,
    duration_ms: body.duration_ms,
    output_bytes: Buffer.byteLength(body.output),
    output_truncated: body.output_truncated,
    error: body.error ?? null,
  };
}
