import type pg from 'pg';
import type { Logger } from '../../runtime/logger.js';
import { withTransaction } from './db.js';
import type { Pool } from './pool.js';

/** Runs a unit of work in a transaction and returns its result. */
export type Transactor = <T>(work: (client: pg.PoolClient) => Promise<T>) => Promise<T>;

interface Item {
  readonly work: (client: pg.PoolClient) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit for small transactions: work submitted while a batch commits waits, then runs
 * with the others in one transaction. Callers resolve only after the COMMIT, so durability is
 * unchanged; what is saved is one commit (and one hold of the audit chain's lock) per item.
 * If anything in a batch fails, the batch is rolled back and every item runs again alone, so
 * one bad item costs only itself (work must therefore be safe to run again after a rollback,
 * as anything in a transaction is).
 */
export function createTransactionBatcher(pool: Pool, logger: Logger, maxBatch = 128): Transactor {
  const queue: Item[] = [];
  let running = false;
  const drain = async (): Promise<void> => {
    running = true;
    while (queue.length > 0) await runBatch(pool, logger, queue.splice(0, maxBatch));
    running = false;
  };
  return <T>(work: (client: pg.PoolClient) => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!running) void drain();
    });
}

async function runBatch(pool: Pool, logger: Logger, items: Item[]): Promise<void> {
  try {
    const values = await withTransaction(pool, async (client) => {
      const results: unknown[] = [];
      for (const item of items) results.push(await item.work(client));
      return results;
    });
    items.forEach((item, index) => item.resolve(values[index]));
  } catch (error) {
    if (items.length === 1) return items[0]!.reject(error);
    logger.info({ err: error, items: items.length }, 'a batched transaction failed; running its items one by one');
    for (const item of items) await runBatch(pool, logger, [item]);
  }
}
