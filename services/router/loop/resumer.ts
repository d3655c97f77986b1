import type { ExecEvent, ExecEventHub } from '../exec/exec-events.js';
import type { Logger } from '../../runtime/logger.js';
import { claimDecided, type ParkedTurn } from '../store/parked-turns.js';
import { resumeTurn, type ResumeDeps } from './resume-turn.js';

/** How often parked turns are looked for without an event (a missed NOTIFY, a router that restarted). */
export const RESUME_SWEEP_MS = 5_000;

export interface LoopResumer {
  start(): void;
  /** Stops looking; turns running are stopped and parked again for another router. */
  close(): Promise<void>;
  /** Looks for parked turns ready to go on now (tests; the sweep does it by itself). */
  sweep(): Promise<void>;
}

/**
 * Resumes parked turns once people decided what they waited for: on every approval event this
 * router hears (any router's decisions reach every router by NOTIFY) and on a slow sweep. The
 * claim deletes the parked row, so each turn is resumed by one router once.
 */
export function createLoopResumer(
  deps: ResumeDeps & { readonly hub: ExecEventHub; readonly logger: Logger },
  sweepMs = RESUME_SWEEP_MS,
): LoopResumer {
  const stopping = new AbortController();
  const running = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  const track = (job: Promise<void>) => {
    running.add(job);
    void job.finally(() => running.delete(job));
  };
  const run = (turn: ParkedTurn) =>
    track(
      resumeTurn(deps, turn, stopping.signal).catch((error: unknown) =>
        deps.logger.error({ err: error, response_id: turn.response_id }, 'a parked turn could not be resumed'),
      ),
    );
  // A claim still in flight when the router stops is awaited too: what it claimed is parked again.
  const claim = async (approvalId: string | null) => {
    if (stopping.signal.aborted) return;
    const claimed = claimDecided(deps.pool, approvalId).then((turns) => turns.forEach(run));
    track(claimed.catch(() => undefined));
    await claimed;
  };
  const onEvent = (event: ExecEvent) => {
    if (event.kind !== 'approval' || event.state === 'pending') return;
    void claim(event.approval_id).catch((error: unknown) =>
      deps.logger.warning({ err: error }, 'could not look for parked turns'),
    );
  };
  return {
    start() {
      unsubscribe = deps.hub.subscribeAll(onEvent);
      timer = setInterval(
        () =>
          void claim(null).catch((error: unknown) =>
            deps.logger.warning({ err: error }, 'could not look for parked turns'),
          ),
        sweepMs,
      );
      timer.unref();
    },
    async close() {
      unsubscribe?.();
      clearInterval(timer);
      stopping.abort();
      // Claims in flight may still start turns: wait until nothing runs.
      while (running.size > 0) await Promise.all([...running]);
    },
    sweep: () => claim(null),
  };
}
