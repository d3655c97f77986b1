import type { Logger } from '../../runtime/logger.js';
import { MAX_BLOCKS } from '../inference/prefix-hash.js';
import type { Queryable } from '../store/db.js';
import { listen, notifyAll, type Listener } from '../store/listener.js';

/** Where replicas tell each other what they placed on which agent. */
export const ROUTING_CHANNEL = 'xerotier_routing';

export interface Placement {
  readonly agentId: string;
  readonly hashes: readonly number[];
  readonly promptCacheKey?: string;
}

export interface RoutingNotesOptions {
  readonly db: Queryable;
  readonly databaseUrl: string;
  readonly logger: Logger;
  readonly replicaId: string;
  /** Another replica's placement, for this replica's prefix index and sticky keys. */
  readonly learn: (placement: Placement) => void;
  /** Placements wait this long to leave together. @default 10 */
  readonly flushMs?: number;
  readonly count?: (direction: 'told' | 'heard', count: number) => void;
}

export interface RoutingNotes {
  told(agentId: string, hashes: readonly number[], promptCacheKey: string | undefined): void;
  start(): void;
  close(): Promise<void>;
}

// NOTIFY stops at 8000 bytes: 256 hashes in base 36 take ~2.8 KB, a cache key at most this.
const MAX_KEY_CHARS = 512;

/**
 * Prefix affinity across replicas: each replica's scheduler decides from its own index of what
 * agents cache, so every placement is told to the others (Postgres NOTIFY, batched) and each
 * records what it hears as if it had placed it. Lost notes cost only cache hits, never a request.
 */
export function createRoutingNotes(options: RoutingNotesOptions): RoutingNotes {
  let pending: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  let listener: Listener | undefined;
  const flush = () => {
    timer = undefined;
    const payloads = pending;
    pending = [];
    options.count?.('told', payloads.length);
    void notifyAll(options.db, ROUTING_CHANNEL, payloads).catch((error: unknown) =>
      options.logger.warning({ err: error }, 'could not tell the other replicas about placements'),
    );
  };
  return {
    told(agentId, hashes, promptCacheKey) {
      pending.push(encodeNote(options.replicaId, { agentId, hashes, ...(promptCacheKey ? { promptCacheKey } : {}) }));
      timer ??= setTimeout(flush, options.flushMs ?? 10);
    },
    start() {
      listener = listen(options.databaseUrl, options.logger, {
        [ROUTING_CHANNEL]: (payload) => {
          const heard = decodeNote(payload);
          if (!heard || heard.replica === options.replicaId) return;
          options.learn(heard.placement);
          options.count?.('heard', 1);
        },
      });
    },
    async close() {
      if (timer) clearTimeout(timer);
      if (pending.length > 0) flush();
      await listener?.close();
    },
  };
}

export function encodeNote(replica: string, placement: Placement): string {
  const key = placement.promptCacheKey;
  return JSON.stringify({
    r: replica,
    a: placement.agentId,
    h: placement.hashes.map((hash) => hash.toString(36)).join(','),
    ...(key !== undefined && key.length <= MAX_KEY_CHARS ? { k: key } : {}),
  });
}

/** A note as another replica wrote it; anything malformed is dropped. */
export function decodeNote(payload: string): { replica: string; placement: Placement } | undefined {
  let note: Record<string, unknown>;
  try {
    note = JSON.parse(payload) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { r, a, h, k } = note ?? {};
  if (typeof r !== 'string' || typeof a !== 'string' || typeof h !== 'string') return undefined;
  const hashes = h === '' ? [] : h.split(',', MAX_BLOCKS + 1).map((part) => parseInt(part, 36));
  if (hashes.length > MAX_BLOCKS || hashes.some((hash) => !Number.isSafeInteger(hash) || hash < 0)) return undefined;
  return { replica: r, placement: { agentId: a, hashes, ...(typeof k === 'string' ? { promptCacheKey: k } : {}) } };
}
