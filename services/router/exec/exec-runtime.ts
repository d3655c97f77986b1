import { makeFrame, type Frame } from '../../protocol/frame.js';
import type { Logger } from '../../runtime/logger.js';
import { listen, type Listener } from '../store/listener.js';
import type { Pool } from '../store/pool.js';
import { createDispatcher, type Dispatcher } from './dispatcher.js';
import {
  EXEC_CONTROL_CHANNEL,
  EXEC_EVENTS_CHANNEL,
  EXEC_QUEUE_CHANNEL,
  ExecEventHub,
  parseControlOrder,
} from './exec-events.js';
import { createWatchdog } from './watchdog.js';
import { createPeriodic } from '../../runtime/periodic.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { AttemptOwners } from './attempt-owners.js';
import { agentWindow } from '../limits/exec-limits.js';
import type { RateLimiter } from '../limits/rate-limiter.js';

export interface ExecRuntimeOptions {
  readonly pool: Pool;
  readonly databaseUrl: string;
  readonly logger: Logger;
  readonly mesh: {
    boundAgents(): string[];
    capacityOf(agentId: string): number | undefined;
    send(agentId: string, frame: Frame): Promise<boolean>;
  };
  /** @default 30000 */
  readonly dispatchTtlMs?: number;
  /** Dispatches per minute per agent, counted in the shared limiter. */
  readonly agentLimit?: { readonly limiter: RateLimiter; readonly perMinute: number };
  /** Safety-net dispatch round when no notification came. @default 500 */
  readonly pollIntervalMs?: number;
  /** @default 1000 */
  readonly watchdogIntervalMs?: number;
  /** Shared with the mesh's report handlers: who holds each attempt this router dispatched. */
  readonly owners?: AttemptOwners;
  readonly clock?: Clock;
}

export interface ExecRuntime {
  readonly hub: ExecEventHub;
  readonly dispatcher: Dispatcher;
  /** LISTENs, polls and sweeps. */
  start(): void;
  close(): Promise<void>;
}

/**
 * This router's part of execution: a dispatcher for the agents it holds, the LISTEN connection
 * that wakes it and carries events and cancel orders between routers, and the watchdog. Built
 * without I/O; start() connects.
 */
export function createExecRuntime(options: ExecRuntimeOptions): ExecRuntime {
  const clock = options.clock ?? systemClock;
  const dispatchTtlMs = options.dispatchTtlMs ?? 30_000;
  const hub = new ExecEventHub();
  const dispatcher = createDispatcher({
    pool: options.pool,
    logger: options.logger,
    dispatchTtlMs,
    clock,
    ...(options.agentLimit ? { admitDispatch: admitAgent(options.agentLimit) } : {}),
    ...(options.owners
      ? {
          onAttempt: (id: string, owner: { attempt: number; agentId: string; projectId: string }) =>
            options.owners!.note(id, owner),
        }
      : {}),
    localAgents: () => options.mesh.boundAgents(),
    capacityOf: (id) => options.mesh.capacityOf(id),
    send: (id, frame) => options.mesh.send(id, frame),
  });
  // Agents bind and renew leases without telling the queue; a short poll covers that.
  const poll = createPeriodic({
    name: 'dispatch poll',
    intervalMs: options.pollIntervalMs ?? 500,
    logger: options.logger,
    clock,
    run: async () => dispatcher.wake(),
  });
  const watchdog = createWatchdog({
    pool: options.pool,
    logger: options.logger,
    dispatchTtlMs,
    clock,
    ...(options.watchdogIntervalMs ? { intervalMs: options.watchdogIntervalMs } : {}),
  });
  let listener: Listener | undefined;
  return {
    hub,
    dispatcher,
    start() {
      listener = listen(
        options.databaseUrl,
        options.logger,
        {
          [EXEC_QUEUE_CHANNEL]: () => dispatcher.wake(),
          [EXEC_EVENTS_CHANNEL]: (payload) => hub.deliver(payload),
          [EXEC_CONTROL_CHANNEL]: (payload) => {
            const order = parseControlOrder(payload);
            if (!order || !options.mesh.boundAgents().includes(order.agent_id)) return;
            void options.mesh.send(
              order.agent_id,
              makeFrame('exec.cancel', {
                invocation_id: order.invocation_id,
                attempt: order.attempt,
                reason: 'cancelled by an operator',
              }),
            );
          },
        },
        () => dispatcher.wake(),
      );
      poll.start();
      watchdog.start();
    },
    async close() {
      await poll.close();
      await watchdog.close();
      await dispatcher.close();
      await listener?.close();
    },
  };
}

function admitAgent({ limiter, perMinute }: { limiter: RateLimiter; perMinute: number }) {
  return async (agentId: string) => (await limiter.hit([agentWindow(perMinute, agentId)])).allowed;
}
