import { PrefixIndex } from '../../../services/router/inference/prefix-index.js';
import { chooseWorker, type WorkerView } from '../../../services/router/inference/scheduler.js';
import type { Policy } from './policies.js';
import type { SimWorker } from './worker.js';
import { rng } from './workloads.js';

export interface ReplicaFleetOptions {
  readonly replicas: number;
  /**
   * Placements told to the other replicas (routing notes), which record them for affinity and
   * count them as load until the next heartbeat; false: each replica knows only its own.
   */
  readonly shared: boolean;
  /** A note reaches the others this late (batching plus NOTIFY), in simulated ms. @default 15 */
  readonly noteDelayMs?: number;
  /** Remote load comes from heartbeats this old at most (renewal + flush + directory cache). @default 2500 */
  readonly loadLagMs?: number;
  readonly seed: number;
}

interface Replica {
  readonly index: PrefixIndex;
  readonly sticky: Map<string, string>;
  /** Requests this replica sent to each worker since the last load snapshot (its forwarded streams). */
  sentSinceSnapshot: number[];
}

/**
 * The router's scheduler run as N replicas behind a random load balancer, as docs/fleet.md
 * describes them: worker w is held by replica w mod N, which sees its load exactly; the others
 * see it as of the last heartbeat plus what they sent since. Each replica has its own prefix
 * index; with `shared` every placement reaches the others after a delay.
 */
export function replicaFleet(capacityBlocks: number, options: ReplicaFleetOptions): Policy {
  const random = rng(options.seed);
  const delay = options.noteDelayMs ?? 15;
  const lag = options.loadLagMs ?? 2_500;
  const replicas: Replica[] = Array.from({ length: options.replicas }, () => ({
    index: new PrefixIndex(() => capacityBlocks),
    sticky: new Map<string, string>(),
    sentSinceSnapshot: [],
  }));
  const notes: {
    at: number;
    sentAt: number;
    from: number;
    workerId: string;
    hashes: readonly number[];
    key?: string;
  }[] = [];
  let snapshot = { at: -Infinity, loads: [] as number[] };
  return {
    route(request, workers) {
      const now = request.arrival;
      while (notes.length > 0 && notes[0]!.at <= now) {
        const note = notes.shift()!;
        replicas.forEach((replica, at) => {
          if (at === note.from) return;
          remember(replica, note.workerId, note.hashes, note.key);
          if (note.sentAt >= snapshot.at) {
            const index = workers.findIndex((worker) => worker.id === note.workerId);
            replica.sentSinceSnapshot[index] = (replica.sentSinceSnapshot[index] ?? 0) + 1;
          }
        });
      }
      if (now - snapshot.at >= lag) {
        snapshot = { at: now, loads: workers.map((worker) => worker.load) };
        for (const replica of replicas) replica.sentSinceSnapshot = workers.map(() => 0);
      }
      const at = Math.floor(random() * replicas.length);
      const replica = replicas[at]!;
      const views = workers.map((worker, index) => view(worker, index, at, replicas.length, snapshot.loads, replica));
      const hashes = request.blocks.slice(0, 256);
      const choice = chooseWorker(
        views,
        { model: 'm', prefixHashes: hashes, ...(request.cacheKey ? { promptCacheKey: request.cacheKey } : {}) },
        {
          matched: (id, blocks) => replica.index.matched(id, blocks),
          stickyWorker: (key) => replica.sticky.get(key),
        },
        { affinity: 3, load: 2, kv: 1, epsilon: 0.25, queueAllowance: 1_000_000 },
      );
      const chosen = choice.ok ? choice.workerId : workers[0]!.id;
      const index = workers.findIndex((worker) => worker.id === chosen);
      remember(replica, chosen, hashes, request.cacheKey);
      replica.sentSinceSnapshot[index] = (replica.sentSinceSnapshot[index] ?? 0) + 1;
      if (options.shared)
        notes.push({
          at: now + delay,
          sentAt: now,
          from: at,
          workerId: chosen,
          hashes,
          ...(request.cacheKey ? { key: request.cacheKey } : {}),
        });
      return index;
    },
  };
}

function view(
  worker: SimWorker,
  index: number,
  replica: number,
  replicas: number,
  snapshot: readonly number[],
  own: Replica,
): WorkerView {
  const held = index % replicas === replica;
  return {
    id: worker.id,
    models: ['m'],
    healthy: true,
    running: held ? worker.load : (snapshot[index] ?? 0) + (own.sentSinceSnapshot[index] ?? 0),
    waiting: 0,
    maxConcurrent: worker.model.maxSeqs,
    kvUsage: worker.kvUsage,
  };
}

function remember(replica: Replica, workerId: string, hashes: readonly number[], key: string | undefined): void {
  replica.index.record(workerId, hashes);
  if (key !== undefined) replica.sticky.set(key, workerId);
}
