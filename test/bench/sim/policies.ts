import { PrefixIndex } from '../../../services/router/inference/prefix-index.js';
import { chooseWorker, type WorkerView } from '../../../services/router/inference/scheduler.js';
import type { SimRequest, SimWorker } from './worker.js';

/** A routing policy under test: sees the request and the workers, returns a worker index. */
export interface Policy {
  route(request: SimRequest, workers: readonly SimWorker[]): number;
}

export function roundRobin(): Policy {
  let next = 0;
  return { route: (_request, workers) => next++ % workers.length };
}

export function leastLoaded(): Policy {
  return { route: (_request, workers) => argMin(workers, (worker) => worker.load) };
}

/** Consistent hashing on the first blocks (the shared system prompt) with bounded loads (ε = 0.25). */
export function consistentHashBounded(prefixBlocks = 8, epsilon = 0.25): Policy {
  let ring: { point: number; worker: number }[] = [];
  return {
    route(request, workers) {
      if (ring.length === 0) ring = buildRing(workers.length);
      const key = request.blocks[Math.min(prefixBlocks, request.blocks.length) - 1]! % 2 ** 32;
      const total = workers.reduce((sum, worker) => sum + worker.load, 0) + 1;
      const cap = Math.ceil(((1 + epsilon) * total) / workers.length);
      let start = ring.findIndex((entry) => entry.point >= key);
      if (start < 0) start = 0;
      for (let step = 0; step < ring.length; step += 1) {
        const entry = ring[(start + step) % ring.length]!;
        if (workers[entry.worker]!.load + 1 <= cap) return entry.worker;
      }
      return ring[start]!.worker;
    },
  };
}

function buildRing(workers: number): { point: number; worker: number }[] {
  const ring: { point: number; worker: number }[] = [];
  for (let worker = 0; worker < workers; worker += 1) {
    for (let replica = 0; replica < 100; replica += 1)
      ring.push({ point: Math.imul(worker * 1_000 + replica + 1, 2654435761) >>> 0, worker });
  }
  return ring.sort((a, b) => a.point - b.point);
}

/** The router's own scheduler (services/router/inference/scheduler.ts) with its history index; times each decision. */
export function routerPolicy(capacityBlocks: number, timings: number[]): Policy {
  const index = new PrefixIndex(() => capacityBlocks);
  const sticky = new Map<string, string>();
  const memory = {
    matched: (id: string, hashes: readonly number[]) => index.matched(id, hashes),
    stickyWorker: (key: string) => sticky.get(key),
  };
  return {
    route(request, workers) {
      const started = performance.now();
      const views: WorkerView[] = workers.map((worker) => ({
        id: worker.id,
        models: ['m'],
        healthy: true,
        running: worker.load,
        waiting: 0,
        maxConcurrent: worker.model.maxSeqs,
        kvUsage: worker.kvUsage,
      }));
      const features = {
        model: 'm',
        prefixHashes: request.blocks.slice(0, 256),
        ...(request.cacheKey ? { promptCacheKey: request.cacheKey } : {}),
      };
      const choice = chooseWorker(views, features, memory, {
        affinity: 3,
        load: 2,
        kv: 1,
        epsilon: 0.25,
        queueAllowance: 1_000_000,
      });
      const chosen = choice.ok ? choice.workerId : workers[0]!.id;
      index.record(chosen, features.prefixHashes);
      if (request.cacheKey) sticky.set(request.cacheKey, chosen);
      timings.push((performance.now() - started) * 1_000);
      return workers.findIndex((worker) => worker.id === chosen);
    },
  };
}

/** Knows every worker's true cache and queue: the shortest predicted time to first token. */
export function oracle(): Policy {
  return {
    route: (request, workers) =>
      argMin(
        workers,
        (worker) =>
          (worker.pendingPrefillTokens() + (request.blocks.length - worker.cachedPrefix(request.blocks)) * 16) *
            worker.model.prefillMsPerToken +
          worker.load * worker.model.stepBaseMs,
      ),
  };
}

function argMin<T>(items: readonly T[], cost: (item: T) => number): number {
  let best = 0;
  for (let index = 1; index < items.length; index += 1) if (cost(items[index]!) < cost(items[best]!)) best = index;
  return best;
}
