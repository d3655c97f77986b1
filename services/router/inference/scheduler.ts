import { createHash } from 'node:crypto';

/** What the router knows of one XIM agent when it routes (its lease and scraped engine metrics). */
export interface WorkerView {
  readonly id: string;
  readonly models: readonly string[];
  readonly healthy: boolean;
  /** Service tiers it serves; every tier when it does not say. */
  readonly tiers?: readonly string[];
  readonly running: number;
  readonly waiting: number;
  /** Requests it runs at once (XEROTIER_AGENT_MAX_CONCURRENT). */
  readonly maxConcurrent: number;
  /** Share of its KV cache held by running requests, 0–1. */
  readonly kvUsage: number;
  /** The replica holding its connection, when another router does (the scheduler ignores it). */
  readonly via?: string;
}

export interface RequestFeatures {
  readonly model: string;
  /** The endpoint's tier; a worker of another tier never serves it. */
  readonly tier?: string;
  /** Chained block hashes of the rendered prompt (prefix-hash.ts). */
  readonly prefixHashes: readonly number[];
  readonly promptCacheKey?: string;
}

export interface RoutingMemory {
  /** Leading blocks the worker is believed to hold (prefix-index.ts). */
  matched(workerId: string, hashes: readonly number[]): number;
  /** The worker that last served a prompt_cache_key. */
  stickyWorker(promptCacheKey: string): string | undefined;
}

export interface Tuning {
  /** Weights of the score: prefix match (fraction of blocks), load (share of slots), KV usage. */
  readonly affinity: number;
  readonly load: number;
  readonly kv: number;
  /** Bounded loads: no worker takes more than ⌈(1+ε)·mean⌉ when others have room. */
  readonly epsilon: number;
  /** Requests a worker may queue beyond its slots before it counts as full. */
  readonly queueAllowance: number;
}

export const DEFAULT_TUNING: Tuning = { affinity: 3, load: 2, kv: 1, epsilon: 0.25, queueAllowance: 8 };

export type Choice =
  | {
      readonly ok: true;
      readonly workerId: string;
      readonly reason: 'cache_key' | 'affinity' | 'least_loaded';
      readonly matchedBlocks: number;
    }
  | { readonly ok: false; readonly reason: 'no_worker_for_model' | 'no_capacity' };

/**
 * Picks the XIM agent for one request. Pure: candidates, the request's features and the
 * router's memory in, a choice out. Filters first (model, health, tier, not full), then bounds
 * load (consistent-hashing-with-bounded-loads style), then honours `prompt_cache_key` as a
 * strong hint and otherwise scores prefix-cache affinity against load and KV pressure.
 */
export function chooseWorker(
  candidates: readonly WorkerView[],
  request: RequestFeatures,
  memory: RoutingMemory,
  tuning: Tuning = DEFAULT_TUNING,
): Choice {
  const eligible = candidates.filter(
    (worker) => worker.healthy && worker.models.includes(request.model) && servesTier(worker, request.tier),
  );
  if (eligible.length === 0) return { ok: false, reason: 'no_worker_for_model' };
  const open = eligible.filter((worker) => load(worker) < worker.maxConcurrent + tuning.queueAllowance);
  if (open.length === 0) return { ok: false, reason: 'no_capacity' };
  const bounded = withinBound(open, tuning.epsilon);
  const hinted = request.promptCacheKey === undefined ? undefined : byCacheKey(bounded, request.promptCacheKey, memory);
  if (hinted)
    return {
      ok: true,
      workerId: hinted.id,
      reason: 'cache_key',
      matchedBlocks: memory.matched(hinted.id, request.prefixHashes),
    };
  return bestScore(bounded, request, memory, tuning);
}

function servesTier(worker: WorkerView, tier: string | undefined): boolean {
  return tier === undefined || worker.tiers === undefined || worker.tiers.includes(tier);
}

function load(worker: WorkerView): number {
  return worker.running + worker.waiting;
}

/** Workers under ⌈(1+ε)·mean load⌉ counting this request; never empty (the least loaded stays). */
function withinBound(workers: readonly WorkerView[], epsilon: number): WorkerView[] {
  const total = workers.reduce((sum, worker) => sum + load(worker), 0) + 1;
  const cap = Math.ceil(((1 + epsilon) * total) / workers.length);
  const under = workers.filter((worker) => load(worker) + 1 <= cap);
  return under.length > 0 ? under : [leastLoaded(workers)];
}

function leastLoaded(workers: readonly WorkerView[]): WorkerView {
  return workers.reduce((best, worker) =>
    load(worker) / worker.maxConcurrent < load(best) / best.maxConcurrent ? worker : best,
  );
}

/** The worker that served this key before if it is still within bounds, else a stable one by rendezvous hashing. */
function byCacheKey(workers: readonly WorkerView[], key: string, memory: RoutingMemory): WorkerView | undefined {
  const sticky = memory.stickyWorker(key);
  const previous = workers.find((worker) => worker.id === sticky);
  if (previous) return previous;
  let best: WorkerView | undefined;
  let bestWeight = -1;
  for (const worker of workers) {
    const weight = createHash('sha256').update(`${key}\u0000${worker.id}`).digest().readUInt32BE(0);
    if (weight > bestWeight) [best, bestWeight] = [worker, weight];
  }
  return best;
}

function bestScore(
  workers: readonly WorkerView[],
  request: RequestFeatures,
  memory: RoutingMemory,
  tuning: Tuning,
): Choice {
  const blocks = request.prefixHashes.length;
  let best: { worker: WorkerView; score: number; matched: number } | undefined;
  for (const worker of [...workers].sort((a, b) => a.id.localeCompare(b.id))) {
    const matched = blocks === 0 ? 0 : memory.matched(worker.id, request.prefixHashes);
    const score =
      tuning.affinity * (blocks === 0 ? 0 : matched / blocks) -
      tuning.load * (load(worker) / worker.maxConcurrent) -
      tuning.kv * worker.kvUsage;
    if (!best || score > best.score) best = { worker, score, matched };
  }
  return {
    ok: true,
    workerId: best!.worker.id,
    reason: best!.matched > 0 ? 'affinity' : 'least_loaded',
    matchedBlocks: best!.matched,
  };
}
