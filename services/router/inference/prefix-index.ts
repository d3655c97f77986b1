/**
 * What the router believes each worker has cached: per worker, the chained block hashes of the
 * prompts it routed there, in LRU order and capped near the worker's real KV capacity, so the
 * belief ages the way the worker's cache does (router-history index, ARCHITECTURE §9). Hashes
 * are chained (each covers every block before it), so a match is a run from the first block.
 */
export class PrefixIndex {
  private readonly workers = new Map<string, Map<number, true>>();

  constructor(private readonly capacityBlocks: (workerId: string) => number) {}

  /** How many leading blocks of `hashes` the worker is believed to hold. */
  matched(workerId: string, hashes: readonly number[]): number {
    const cache = this.workers.get(workerId);
    if (!cache) return 0;
    let count = 0;
    while (count < hashes.length && cache.has(hashes[count]!)) count += 1;
    return count;
  }

  /** The worker was sent this prompt: its blocks are now its most recently used. */
  record(workerId: string, hashes: readonly number[]): void {
    let cache = this.workers.get(workerId);
    if (!cache) this.workers.set(workerId, (cache = new Map<number, true>()));
    for (const hash of hashes) {
      cache.delete(hash);
      cache.set(hash, true);
    }
    const capacity = Math.max(1, this.capacityBlocks(workerId));
    // Map iteration is insertion order: the first keys are the least recently used.
    for (const hash of cache.keys()) {
      if (cache.size <= capacity) break;
      cache.delete(hash);
    }
  }

  /** A worker that restarted or left holds nothing any more. */
  forget(workerId: string): void {
    this.workers.delete(workerId);
  }
}
