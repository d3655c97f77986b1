import pg from 'pg';
import type { Logger } from '../../runtime/logger.js';

export type Pool = pg.Pool;

export interface PoolOptions {
  readonly connectionString: string;
  readonly max: number;
  readonly logger: Logger;
  readonly applicationName?: string;
}

/**
 * A pg pool whose idle-client errors are logged instead of crashing the process (an idle client
 * whose server went away emits 'error' with no one awaiting it).
 */
export function createPool(options: PoolOptions): Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    application_name: options.applicationName ?? 'xerotier-router',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', (error) => options.logger.warning({ err: error }, 'idle database client failed'));
  return pool;
}

/** True when the database answers a trivial query within timeoutMs. */
export async function databaseAnswers(pool: Pool, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const probe = pool.query('SELECT 1').then(
    () => true,
    () => false,
  );
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
