import type { Clock } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/logger.js';
import { createPeriodic, type Periodic } from '../../runtime/periodic.js';
import { withTransaction } from '../store/db.js';
import { findLostAttempts } from '../store/dispatch-queue.js';
import type { Pool } from '../store/pool.js';
import { advanceInvocation } from './advance.js';
import { sweepDueApprovals } from './approvals.js';

export interface WatchdogOptions {
  readonly pool: Pool;
  readonly logger: Logger;
  readonly clock: Clock;
  /** How long an agent has to accept a dispatch (it refuses one older itself). */
  readonly dispatchTtlMs: number;
  /** @default 1000 */
  readonly intervalMs?: number;
}

/**
 * What time alone decides, swept from the database so any router (or one restarted) acts:
 * calls whose agent lost its lease or never accepted become `lease_lost` (safe ones go again,
 * dangerous ones turn ambiguous), and approvals past their deadline expire or escalate. The
 * clock decides what "past" means, so a test moves it instead of waiting.
 */
export function createWatchdog(options: WatchdogOptions): Periodic {
  return createPeriodic({
    name: 'exec watchdog',
    intervalMs: options.intervalMs ?? 1_000,
    logger: options.logger,
    clock: options.clock,
    run: async () => {
      await sweepLostAttempts(options);
      await sweepDueApprovals(options.pool, new Date(options.clock.now()));
    },
  });
}

async function sweepLostAttempts(options: WatchdogOptions): Promise<void> {
  // A grace period past the agent's own deadline: its refusal may still be on the way.
  const lost = await findLostAttempts(options.pool, new Date(options.clock.now() - options.dispatchTtlMs - 5_000));
  for (const attempt of lost) {
    const outcome = await withTransaction(options.pool, (client) =>
      advanceInvocation(
        client,
        attempt.id,
        { type: 'lease_lost', attempt: attempt.attempt },
        { actor: 'router', detail: { reason: attempt.reason, lost_agent: attempt.agent_id } },
      ),
    );
    if (outcome.status === 'applied')
      options.logger.notice(
        {
          invocation_id: attempt.id,
          attempt: attempt.attempt,
          reason: attempt.reason,
          state: outcome.invocation.state,
        },
        'invocation lost its agent',
      );
  }
}
