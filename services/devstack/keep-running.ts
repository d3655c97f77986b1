import type { Lifecycle } from '../runtime/lifecycle.js';
import type { Logger } from '../runtime/logger.js';
import type { ServiceProcess } from './child-process.js';

export interface KeepRunningOptions {
  readonly name: string;
  readonly logger: Logger;
  readonly lifecycle: Lifecycle;
  /** Starts the service and resolves once it is up (a relaunch calls it again). */
  readonly launch: () => Promise<ServiceProcess>;
  /** @default 1000 */
  readonly initialDelayMs?: number;
  /** @default 30000 */
  readonly maxDelayMs?: number;
  /** Up this long, and the next crash starts the backoff over. @default 60000 */
  readonly stableMs?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** The delay before relaunch `attempt` (0-based): doubling from the initial delay, capped, with half of it jittered. */
export function relaunchDelay(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const base = Math.min(maxMs, initialMs * 2 ** attempt);
  return Math.round(base / 2 + (base / 2) * random());
}

/**
 * An agent of the dev stack that dies is started again, with backoff, until the stack stops:
 * an agent is replaceable (its enrollment and outbox are on disk, so results still arrive after
 * a crash), unlike the router or Postgres, whose loss stops `npm start`.
 */
export async function keepRunning(options: KeepRunningOptions): Promise<{ current(): ServiceProcess }> {
  const now = options.now ?? Date.now;
  let current = await options.launch();
  let attempt = 0;
  let startedAt = now();
  let timer: NodeJS.Timeout | undefined;
  const watch = (service: ServiceProcess) => {
    void service.exited.then(({ code, signal }) => {
      if (options.lifecycle.closing) return;
      if (now() - startedAt > (options.stableMs ?? 60_000)) attempt = 0;
      const delay = relaunchDelay(
        attempt++,
        options.initialDelayMs ?? 1_000,
        options.maxDelayMs ?? 30_000,
        options.random ?? Math.random,
      );
      options.logger.warning(
        { component: options.name, code, signal, restart_in_ms: delay },
        'a dev agent exited; starting it again',
      );
      timer = setTimeout(() => void relaunch(), delay);
    });
  };
  const relaunch = async () => {
    timer = undefined;
    if (options.lifecycle.closing) return;
    try {
      current = await options.launch();
      startedAt = now();
      watch(current);
    } catch (error) {
      options.logger.error({ component: options.name, err: error }, 'a dev agent did not come back; trying again');
      watch({ ...current, exited: Promise.resolve({ code: null, signal: null }) });
    }
  };
  watch(current);
  options.lifecycle.defer(options.name, async () => {
    clearTimeout(timer);
    await current.stop(15_000);
  });
  return { current: () => current };
}
