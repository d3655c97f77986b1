import type { Lifecycle } from '../runtime/lifecycle.js';
import type { Logger } from '../runtime/logger.js';

/** The router revoked or replaced this agent: nothing runs until an operator re-enrolls it. */
export class AgentRetired extends Error {
  override readonly name = 'AgentRetired';
  constructor(readonly reason: string) {
    super(reason);
  }
}

const REMIND_EVERY_MS = 10 * 60_000;

/**
 * A retired agent stays up, idle and saying why, instead of exiting: under a supervisor that
 * restarts whatever exits (Kubernetes, systemd's Restart=always) an exit would become a crash
 * loop hammering the router with a spent join key. It reports `retired` to a parent process,
 * repeats the reason every ten minutes, and stops cleanly on the first signal.
 */
export function holdRetired(options: {
  readonly logger: Logger;
  readonly lifecycle: Lifecycle;
  readonly reason: string;
  readonly report?: (message: Record<string, unknown>) => void;
}): void {
  const say = () =>
    options.logger.error(
      { reason: options.reason },
      'agent retired: it runs nothing until re-enrolled (mint a new join key, set it, and restart the agent)',
    );
  say();
  const reminder = setInterval(say, REMIND_EVERY_MS);
  options.lifecycle.defer('retired reminder', () => clearInterval(reminder));
  options.report?.({ type: 'retired', reason: options.reason });
}
