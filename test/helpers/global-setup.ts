import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { isProcessAlive } from '../../services/devstack/child-process.js';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { createLogger } from '../../services/runtime/logger.js';
import { MIGRATIONS_DIR, migrate } from '../../services/router/store/migrate.js';
import { startEmbeddedServer, type EmbeddedServer } from './embedded-server.js';
import { withDatabase, withPgClient } from './pg-admin.js';
import { TEST_APP_ROLE } from './database.js';

/**
 * Once per test run: a Postgres server (XEROTIER_TEST_DATABASE_URL, else embedded) and a
 * migrated template database named after a hash of the migrations, so a schema change builds a
 * new template and an unchanged one is reused. Test files clone it (test/helpers/database.ts).
 * Databases this run created are dropped at the end; leftovers of dead runs at the start.
 */
// Every vitest project inherits the root globalSetup, and all of them run in this one process:
// the first call prepares the server, the others share it, the last teardown releases it.
interface Shared {
  ready: Promise<() => Promise<void>>;
  users: number;
}
const shared = globalThis as typeof globalThis & { __xerotierTestPg?: Shared };

export default async function setup(): Promise<() => Promise<void>> {
  // Tests keep their scratch directories under .xerotier/ (git-ignored); a fresh clone has none.
  mkdirSync(join(REPO_ROOT, '.xerotier'), { recursive: true });
  shared.__xerotierTestPg ??= { ready: prepare(), users: 0 };
  const state = shared.__xerotierTestPg;
  state.users += 1;
  const release = await state.ready;
  return async () => {
    state.users -= 1;
    if (state.users === 0) await release();
  };
}

async function prepare(): Promise<() => Promise<void>> {
  let embedded: EmbeddedServer | undefined;
  let serverUrl = process.env['XEROTIER_TEST_DATABASE_URL'];
  if (!serverUrl) {
    embedded = await startEmbeddedServer();
    serverUrl = embedded.url;
  }
  const template = `xt_template_${migrationsHash()}`;
  try {
    await withPgClient(serverUrl, async (client) => {
      await dropDeadRunDatabases(client);
      await ensureTemplate(client, serverUrl!, template);
    });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  process.env['XEROTIER_TEST_PG_SERVER_URL'] = serverUrl;
  process.env['XEROTIER_TEST_PG_TEMPLATE'] = template;
  process.env['XEROTIER_TEST_RUN_ID'] = String(process.pid);
  return async () => {
    await withPgClient(serverUrl!, (client) => dropRunDatabases(client, process.pid)).catch(() => undefined);
    await embedded?.stop();
  };
}

function migrationsHash(): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(MIGRATIONS_DIR).sort())
    hash.update(name).update(readFileSync(join(MIGRATIONS_DIR, name)));
  // The grants the app role gets are part of the template too.
  hash.update(readFileSync(join(MIGRATIONS_DIR, '..', 'app-role.ts')));
  return hash.digest('hex').slice(0, 16);
}

async function ensureTemplate(client: pg.Client, serverUrl: string, template: string): Promise<void> {
  // One run at a time builds templates on a shared server.
  await client.query('SELECT pg_advisory_lock(724519)');
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate', [template]);
    if (found.rowCount === 1) return;
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(template)}`);
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(template)}`);
    const logger = createLogger({ service: 'test', level: 'warning' });
    await migrate({ databaseUrl: withDatabase(serverUrl, template), logger, appRole: TEST_APP_ROLE });
    await client.query(`ALTER DATABASE ${pg.escapeIdentifier(template)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
  } finally {
    await client.query('SELECT pg_advisory_unlock(724519)');
  }
}

async function dropDeadRunDatabases(client: pg.Client): Promise<void> {
  const rows = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname ~ '^xt_[0-9]+_'");
  for (const { datname } of rows.rows) {
    const pid = Number(datname.split('_')[1]);
    if (!isProcessAlive(pid))
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
  }
}

async function dropRunDatabases(client: pg.Client, runId: number): Promise<void> {
  const rows = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
    `xt_${runId}_%`,
  ]);
  for (const { datname } of rows.rows)
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
}
