/**
 * A simulated vLLM worker in virtual time: a block cache with vLLM's semantics (only full
 * blocks, chained hashes, blocks of running requests pinned, the rest evicted least recently
 * used first) and continuous batching (chunked prefill under a token budget, one decode token
 * per running sequence per step). Times are milliseconds.
 */
export const BLOCK_TOKENS = 16;

export interface SimRequest {
  readonly id: number;
  readonly arrival: number;
  readonly blocks: readonly number[];
  readonly outputTokens: number;
  readonly tenant: string;
  readonly cacheKey?: string;
}

export interface WorkerModel {
  readonly capacityBlocks: number;
  readonly maxSeqs: number;
  readonly tokenBudget: number;
  /** Step time: base + per prefill token + per decoding sequence. */
  readonly stepBaseMs: number;
  readonly prefillMsPerToken: number;
  readonly decodeMsPerSeq: number;
}

export const DEFAULT_MODEL: WorkerModel = {
  capacityBlocks: 20_000,
  maxSeqs: 32,
  tokenBudget: 4_096,
  stepBaseMs: 10,
  prefillMsPerToken: 0.1,
  decodeMsPerSeq: 0.2,
};

interface Active {
  readonly request: SimRequest;
  prefillLeft: number;
  decodeLeft: number;
  readonly pinned: readonly number[];
}

export interface Completion {
  readonly request: SimRequest;
  readonly ttftMs: number;
  readonly cachedTokens: number;
}

export class SimWorker {
  /** Block hash → pin count; Map order is LRU order (oldest first). */
  private readonly cache = new Map<number, number>();
  private readonly waiting: SimRequest[] = [];
  private readonly running: Active[] = [];
  private pinnedBlocks = 0;
  busyMs = 0;
  /** Virtual time at which the current step ends; undefined when idle. */
  stepEnds: number | undefined;
  private readonly firstTokens = new Map<number, { ttft: number; cached: number }>();

  constructor(
    readonly id: string,
    readonly model: WorkerModel,
  ) {}

  get load(): number {
    return this.running.length + this.waiting.length;
  }

  get kvUsage(): number {
    return this.pinnedBlocks / this.model.capacityBlocks;
  }

  /** Leading blocks of a prompt this worker holds right now (the oracle's view). */
  cachedPrefix(blocks: readonly number[]): number {
    let count = 0;
    while (count < blocks.length && this.cache.has(blocks[count]!)) count += 1;
    return count;
  }

  /** Prefill tokens queued or in progress: the oracle's estimate of the wait. */
  pendingPrefillTokens(): number {
    return (
      this.running.reduce((sum, active) => sum + active.prefillLeft, 0) +
      this.waiting.reduce((sum, request) => sum + request.blocks.length * BLOCK_TOKENS, 0)
    );
  }

  enqueue(request: SimRequest): void {
    this.waiting.push(request);
  }

  /** Runs one step starting at `now`; returns the requests that finished during it. */
  step(now: number): { duration: number; done: Completion[] } {
    this.admit();
    let budget = this.model.tokenBudget;
    let prefilled = 0;
    const decoding = this.running.filter((active) => active.prefillLeft === 0).length;
    for (const active of this.running) {
      if (active.prefillLeft === 0 || budget === 0) continue;
      const chunk = Math.min(budget, active.prefillLeft);
      active.prefillLeft -= chunk;
      budget -= chunk;
      prefilled += chunk;
    }
    const duration =
      this.model.stepBaseMs + prefilled * this.model.prefillMsPerToken + decoding * this.model.decodeMsPerSeq;
    const end = now + duration;
    this.busyMs += duration;
    const done: Completion[] = [];
    for (const active of [...this.running]) {
      const record = this.firstTokens.get(active.request.id)!;
      if (active.prefillLeft === 0 && record.ttft < 0) record.ttft = end - active.request.arrival;
      else if (active.prefillLeft === 0) active.decodeLeft -= 1;
      if (active.prefillLeft === 0 && active.decodeLeft <= 0) {
        this.finish(active);
        done.push({ request: active.request, ttftMs: record.ttft, cachedTokens: record.cached });
        this.firstTokens.delete(active.request.id);
      }
    }
    return { duration, done };
  }

  get idle(): boolean {
    return this.running.length === 0 && this.waiting.length === 0;
  }

  private admit(): void {
    while (this.waiting.length > 0 && this.running.length < this.model.maxSeqs) {
      const request = this.waiting[0]!;
      const cached = this.cachedPrefix(request.blocks);
      const needed = request.blocks.length - cached;
      if (!this.makeRoom(needed, request.blocks.slice(0, cached))) break;
      this.waiting.shift();
      for (const hash of request.blocks) this.pin(hash);
      this.running.push({
        request,
        prefillLeft: Math.max(1, needed * BLOCK_TOKENS),
        decodeLeft: request.outputTokens,
        pinned: request.blocks,
      });
      this.firstTokens.set(request.id, { ttft: -1, cached: cached * BLOCK_TOKENS });
    }
  }

  private makeRoom(needed: number, hits: readonly number[]): boolean {
    const hitSet = new Set(hits);
    const free = this.model.capacityBlocks - this.cache.size;
    let toEvict = needed - free;
    if (toEvict <= 0) return true;
    if (this.model.capacityBlocks - this.pinnedBlocks - hitSet.size < needed) return false;
    for (const [hash, pins] of this.cache) {
      if (toEvict <= 0) break;
      if (pins > 0 || hitSet.has(hash)) continue;
      this.cache.delete(hash);
      toEvict -= 1;
    }
    return toEvict <= 0;
  }

  private pin(hash: number): void {
    const pins = this.cache.get(hash) ?? 0;
    this.cache.delete(hash);
    this.cache.set(hash, pins + 1);
    if (pins === 0) this.pinnedBlocks += 1;
  }

  private finish(active: Active): void {
    this.running.splice(this.running.indexOf(active), 1);
    // Freed in reverse order, so the tail (least reusable) is evicted first.
    for (const hash of [...active.pinned].reverse()) {
      const pins = this.cache.get(hash);
      if (pins === undefined) continue;
      this.cache.delete(hash);
      this.cache.set(hash, pins - 1);
      if (pins - 1 === 0) this.pinnedBlocks -= 1;
    }
  }
}
