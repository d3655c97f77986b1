import type { Clock } from '../../runtime/clock.js';
import { inSpan, type TraceCarrier } from '../../runtime/tracing.js';
import type { Logger } from '../../runtime/logger.js';
import { makeFrame, type Frame } from '../../protocol/frame.js';
import { withTransaction } from '../store/db.js';
import { claimQueued, writeDispatches, type ClaimedInvocation } from '../store/dispatch-queue.js';
import type { Pool } from '../store/pool.js';
import { advanceInvocation } from './advance.js';
import { chooseAgent } from './choose-agent.js';
import { EXEC_EVENTS_CHANNEL, type ExecEvent } from './exec-events.js';
import { mayRerun, transition } from './invocation-state.js';
import { requestHash } from '../../protocol/request-hash.js';

export interface DispatcherOptions {
  readonly pool: Pool;
  readonly logger: Logger;
  /** Agents whose connection this router holds. */
  readonly localAgents: () => string[];
  /** Execution slots an agent's lease reported; undefined until it did. */
  readonly capacityOf: (agentId: string) => number | undefined;
  readonly send: (agentId: string, frame: Frame) => Promise<boolean>;
  /** How long an agent may take to accept a dispatch before refusing it itself. @default 30000 */
  readonly dispatchTtlMs?: number;
  /** The agent layer of the rate limits: false leaves the call queued for a later round. */
  readonly admitDispatch?: (agentId: string) => Promise<boolean>;
  /** Invocations claimed per transaction. @default 64 */
  readonly batchSize?: number;
  readonly clock: Clock;
  /** Told each attempt written (the report-ownership cache), before any agent hears of it. */
  readonly onAttempt?: (invocationId: string, owner: { attempt: number; agentId: string; projectId: string }) => void;
}

export interface Dispatcher {
  /** Something may be dispatchable: run a round soon (calls coalesce). */
  wake(): void;
  /**
   * A round that starts now (after any in progress) and everything it leads to, done: what is
   * dispatchable at the call has been dispatched when it resolves. Tests await it to show a held
   * call was not sent, instead of sleeping.
   */
  settle(): Promise<void>;
  close(): Promise<void>;
}

interface Assignment {
  readonly invocation: ClaimedInvocation;
  readonly agentId: string;
  readonly attempt: number;
}

/**
 * Moves queued invocations to agents connected to this router. Each round claims rows with
 * FOR UPDATE SKIP LOCKED, assigns each to the least loaded candidate, writes `dispatched`
 * with the next attempt number and its audit entry, commits, and only then sends the frames:
 * an attempt exists in the database before any agent can hear of it. Replicas claim disjoint
 * rows, so no attempt is sent twice.
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const batchSize = options.batchSize ?? 64;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;
  const loop = async (): Promise<void> => {
    do {
      again = false;
      const dispatched = await round(options, batchSize).catch((error: unknown) => {
        options.logger.error({ err: error }, 'dispatch round failed');
        return 0;
      });
      if (dispatched === batchSize) again = true;
    } while (again && !closed);
  };
  const wake = () => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = loop().finally(() => (running = undefined));
  };
  return {
    wake,
    async settle() {
      wake();
      await running;
    },
    async close() {
      closed = true;
      await running;
    },
  };
}

async function round(options: DispatcherOptions, batchSize: number): Promise<number> {
  const local = options.localAgents();
  if (local.length === 0) return 0;
  const assignments = await withTransaction(options.pool, async (client) => {
    const claimed = await claimQueued(client, local, batchSize);
    if (claimed.length === 0) return [];
    const load = new Map(Object.entries(claimed[0]!.agent_loads));
    const chosen: Assignment[] = [];
    for (const invocation of claimed) {
      const voided = approvalProblem(invocation);
      if (voided) {
        await advanceInvocation(
          client,
          invocation.id,
          { type: 'approval_voided' },
          { actor: 'router', detail: { reason: voided } },
        );
        options.logger.warning(
          { invocation_id: invocation.id, reason: voided },
          'refused to dispatch a dangerous call: approval voided',
        );
        continue;
      }
      const agentId = chooseAgent(invocation.candidates, load, options.capacityOf);
      if (!agentId || (options.admitDispatch && !(await options.admitDispatch(agentId)))) continue;
      const next = transition(invocation, { type: 'dispatched' });
      if (!next.ok) continue;
      load.set(agentId, (load.get(agentId) ?? 0) + 1);
      chosen.push({ invocation, agentId, attempt: next.next.attempt });
    }
    await writeDispatches(
      client,
      chosen.map(({ invocation, agentId, attempt }) => ({
        id: invocation.id,
        projectId: invocation.project_id,
        attempt,
        agentId,
      })),
      {
        channel: EXEC_EVENTS_CHANNEL,
        payloads: chosen.map((assignment) => JSON.stringify(stateEvent(assignment))),
      },
    );
    return chosen;
  });
  for (const { invocation, agentId, attempt } of assignments)
    options.onAttempt?.(invocation.id, { attempt, agentId, projectId: invocation.project_id });
  await Promise.all(assignments.map((assignment) => deliver(options, assignment)));
  return assignments.length;
}

async function deliver(options: DispatcherOptions, assignment: Assignment): Promise<void> {
  const attributes = {
    'xerotier.invocation_id': assignment.invocation.id,
    'xerotier.tool': assignment.invocation.tool,
    'xerotier.agent_id': assignment.agentId,
  };
  await inSpan(
    'exec.dispatch',
    assignment.invocation.trace ?? undefined,
    (trace) => send(options, assignment, trace),
    attributes,
  );
}

async function send(
  options: DispatcherOptions,
  { invocation, agentId, attempt }: Assignment,
  trace: TraceCarrier | undefined,
): Promise<void> {
  const sent = await options.send(
    agentId,
    makeFrame(
      'exec.dispatch',
      {
        invocation_id: invocation.id,
        attempt,
        tool: invocation.tool,
        workspace_id: invocation.workspace_id,
        risk: invocation.risk,
        args: invocation.args,
        // What the agent recomputes and must match: for a dangerous call, the hash a person approved.
        request_hash: invocation.approval_hash ?? invocation.request_hash,
        timeout_ms: invocation.timeout_ms,
        not_after: options.clock.now() + (options.dispatchTtlMs ?? 30_000),
      },
      trace ? { trace } : {},
    ),
  );
  if (sent) return;
  await withTransaction(options.pool, (client) =>
    advanceInvocation(
      client,
      invocation.id,
      { type: 'undelivered', attempt },
      { actor: 'router', detail: { reason: 'agent connection gone before the dispatch left' } },
    ),
  ).catch((error: unknown) =>
    options.logger.error(
      { err: error, invocation_id: invocation.id },
      'could not return an undelivered dispatch to the queue',
    ),
  );
}

/**
 * Why a dangerous call may not run, if it may not: it needs an approved approval, and the hash a
 * person approved must equal the hash of what would run now, recomputed from the row's tool,
 * arguments and workspace — never compared with a hash stored on the invocation itself, which
 * whoever changed the arguments could have changed too.
 */
function approvalProblem(invocation: ClaimedInvocation): string | undefined {
  // Read and write calls need one only where the workspace's policy says so (or one was asked for).
  if (mayRerun(invocation.risk) && !invocation.approval_required && invocation.approval_state === null)
    return undefined;
  if (invocation.approval_state !== 'approved')
    return `approval_voided: no approved approval (approval ${invocation.approval_state ?? 'missing'})`;
  if (requestHash(invocation) !== invocation.approval_hash)
    return 'approval_voided: the call no longer matches what was approved';
  return undefined;
}

function stateEvent({ invocation, agentId, attempt }: Assignment): ExecEvent {
  return {
    kind: 'state',
    project_id: invocation.project_id,
    invocation_id: invocation.id,
    state: 'dispatched',
    attempt,
    agent_id: agentId,
    at: new Date().toISOString(),
  };
}
