import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { dropDatabase, withDatabase, withPgClient } from './pg-admin.js';

export interface TestDatabase {
  readonly name: string;
  /** As the router connects in production: the app role (append-only on the audit log). */
  readonly url: string;
  /** As the schema's owner (a superuser here): migrations, and tests that play a database superuser. */
  readonly ownerUrl: string;
  drop(): Promise<void>;
}

/** The role tests' routers connect as; its own name, so a devstack on the same server keeps its password. */
export const TEST_APP_ROLE = { name: 'xerotier_test_app', password: 'xerotier-test-app' } as const;

/** The same database, as the app role. */
export function appRoleUrl(ownerUrl: string): string {
  const url = new URL(ownerUrl);
  url.username = TEST_APP_ROLE.name;
  url.password = TEST_APP_ROLE.password;
  return url.toString();
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests through vitest so test/helpers/global-setup.ts runs`);
  return value;
}

export function testServerUrl(): string {
  return required('XEROTIER_TEST_PG_SERVER_URL');
}

/**
 * A fresh database cloned from the migrated template, private to the calling test file.
 * CREATE DATABASE … TEMPLATE fails while another session copies the same template, so
 * concurrent files retry briefly.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  const template = required('XEROTIER_TEST_PG_TEMPLATE');
  const name = `xt_${required('XEROTIER_TEST_RUN_ID')}_${randomBytes(6).toString('hex')}`;
  await withPgClient(serverUrl, async (client) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} TEMPLATE ${pg.escapeIdentifier(template)}`);
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== '55006' || attempt >= 50) throw error;
        // The template is busy (another file cloning it): jittered retry, as Postgres gives no notice.
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
      }
    }
  });
  const ownerUrl = withDatabase(serverUrl, name);
  return { name, url: appRoleUrl(ownerUrl), ownerUrl, drop: () => dropDatabase(serverUrl, name) };
}

/** An empty database (no migrations), for migration tests. */
export async function createEmptyDatabase(): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  const name = `xt_${required('XEROTIER_TEST_RUN_ID')}_${randomBytes(6).toString('hex')}`;
  await withPgClient(serverUrl, (client) => client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  const ownerUrl = withDatabase(serverUrl, name);
  // Nothing is granted until migrations run: `url` is the owner's, as a migration Job uses it.
  return { name, url: ownerUrl, ownerUrl, drop: () => dropDatabase(serverUrl, name) };
}
