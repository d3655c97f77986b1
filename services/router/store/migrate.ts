import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { ensureAppRole, type AppRole } from './app-role.js';
import type { Logger } from '../../runtime/logger.js';

/** Plain SQL files, `<timestamp>_<name>.sql` with `-- Up Migration` / `-- Down Migration`. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));
export const MIGRATIONS_TABLE = 'schema_migrations';

export interface MigrateOptions {
  readonly databaseUrl: string;
  readonly logger: Logger;
  readonly direction?: 'up' | 'down';
  /** Steps to run; all pending when unset (up) or one (down). */
  readonly count?: number;
  /** The role the router connects as: created or updated, and granted, after the migrations. */
  readonly appRole?: AppRole;
}

/**
 * Applies pending migrations under node-pg-migrate's advisory lock, so replicas starting at once
 * (or a migration Job racing a router) never apply a migration twice.
 */
export async function migrate(options: MigrateOptions): Promise<string[]> {
  const direction = options.direction ?? 'up';
  const applied = await runner({
    databaseUrl: options.databaseUrl,
    dir: MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction,
    count: options.count ?? (direction === 'up' ? Infinity : 1),
    singleTransaction: true,
    advisoryLockMode: 'wait',
    checkOrder: true,
    log: (message: string) => options.logger.debug({ component: 'migrate' }, message),
  });
  const names = applied.map((migration) => migration.name);
  options.logger.info({ applied: names, direction }, names.length > 0 ? 'migrations applied' : 'schema up to date');
  if (options.appRole && direction === 'up')
    await withClient(options.databaseUrl, (client) => ensureAppRole(client, options.appRole!, options.logger));
  return names;
}

async function withClient<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'xerotier-migrate' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
