import type pg from 'pg';
import type { Pool } from './pool.js';
import { withRetry } from './retry.js';

/** What store functions need: one query at a time, from a pool or a transaction's client. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  /** A named statement: each connection parses and plans it once (for what every tool call runs). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: {
    name: string;
    text: string;
    values?: unknown[];
  }): Promise<pg.QueryResult<R>>;
}

/**
 * Runs fn inside BEGIN/COMMIT on one client; rolls back on any error. A serialization failure or
 * deadlock runs the whole transaction again (store/retry.ts): fn must be safe to run again after
 * a rollback, as anything inside a transaction is.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withRetry(() => transactOnce(pool, fn));
}

async function transactOnce<T>(pool: Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
