import type { Policy } from './policies.js';
import { DEFAULT_MODEL, SimWorker, type Completion } from './worker.js';
import type { Workload } from './workloads.js';

export interface SimResult {
  readonly hitRate: number;
  readonly ttftP50: number;
  readonly ttftP99: number;
  readonly maxMeanLoad: number;
  readonly completed: number;
}

/**
 * Runs a workload against a policy in virtual time: arrivals are routed as they come, and each
 * busy worker steps back to back. Deterministic for a workload and policy; no sleeping.
 */
export function simulate(workload: Workload, policy: Policy): SimResult {
  const workers = Array.from(
    { length: workload.workers },
    (_, index) => new SimWorker(`w${index}`, { ...DEFAULT_MODEL, capacityBlocks: workload.capacityBlocks }),
  );
  const completions: Completion[] = [];
  let next = 0;
  const requests = workload.requests;
  for (;;) {
    const arrival = next < requests.length ? requests[next]!.arrival : Infinity;
    const stepping = workers.filter((worker) => worker.stepEnds !== undefined);
    const soonest = stepping.reduce<SimWorker | undefined>(
      (best, worker) => (best === undefined || worker.stepEnds! < best.stepEnds! ? worker : best),
      undefined,
    );
    const stepTime = soonest?.stepEnds ?? Infinity;
    if (arrival === Infinity && stepTime === Infinity) break;
    if (arrival <= stepTime) {
      const request = requests[next++]!;
      const worker = workers[policy.route(request, workers)]!;
      worker.enqueue(request);
      if (worker.stepEnds === undefined) worker.stepEnds = request.arrival;
      continue;
    }
    const now = stepTime;
    const { duration, done } = soonest!.step(now);
    completions.push(...done);
    soonest!.stepEnds = soonest!.idle ? undefined : now + duration;
  }
  return summarise(completions, workers);
}

function summarise(completions: readonly Completion[], workers: readonly SimWorker[]): SimResult {
  const promptTokens = completions.reduce((sum, done) => sum + done.request.blocks.length * 16, 0);
  const cachedTokens = completions.reduce((sum, done) => sum + done.cachedTokens, 0);
  const ttfts = completions.map((done) => done.ttftMs).sort((a, b) => a - b);
  const busy = workers.map((worker) => worker.busyMs);
  const mean = busy.reduce((sum, value) => sum + value, 0) / busy.length;
  return {
    hitRate: cachedTokens / Math.max(1, promptTokens),
    ttftP50: quantile(ttfts, 0.5),
    ttftP99: quantile(ttfts, 0.99),
    maxMeanLoad: Math.max(...busy) / Math.max(1e-9, mean),
    completed: completions.length,
  };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
