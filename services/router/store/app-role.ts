import pg from 'pg';
import type { Logger } from '../../runtime/logger.js';

/**
 * The database role the router connects as. Migrations run as the schema's owner; the router
 * runs as this role, which may read and write the application's tables but only INSERT and
 * SELECT the audit log: it cannot UPDATE, DELETE or TRUNCATE it, and, not owning the table,
 * cannot ALTER it or disable its triggers. A compromised router process therefore cannot
 * rewrite history; only the owner (or a superuser) could, and the signed checkpoints that leave
 * the database (exec/audit-checkpoints.ts) reveal that.
 */
export interface AppRole {
  readonly name: string;
  /** Sets the role's password (LOGIN); unset, an existing role keeps its own. */
  readonly password?: string;
}

/** Tables the app role may only read and append to. */
const APPEND_ONLY = ['execution_audit_log'];
/** Tables the app role may only read. */
const READ_ONLY = ['schema_migrations'];
const GRANT_LOCK = 7346002;

/**
 * Creates the role when missing (with LOGIN) or sets its password, then grants it exactly what
 * the router needs on the current schema. Idempotent; run after every migration so new tables
 * are covered. Refuses a role that would defeat the point (a superuser, or the owner itself).
 */
export async function ensureAppRole(client: pg.ClientBase, role: AppRole, logger: Logger): Promise<void> {
  const me = (await client.query<{ me: string; db: string }>('SELECT current_user AS me, current_database() AS db'))
    .rows[0]!;
  if (me.me === role.name)
    throw new Error(
      `the app role ${role.name} is the role running migrations: the router must connect as a role that does not own the schema`,
    );
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [GRANT_LOCK]);
    await createOrUpdate(client, role);
    await grant(client, role.name, me.db);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  logger.info({ role: role.name }, 'app role granted: read/write on the schema, append-only on the audit log');
}

async function createOrUpdate(client: pg.ClientBase, role: AppRole): Promise<void> {
  const ident = pg.escapeIdentifier(role.name);
  const password = role.password === undefined ? '' : ` PASSWORD ${pg.escapeLiteral(role.password)}`;
  const found = await client.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [
    role.name,
  ]);
  if (found.rows[0]?.rolsuper)
    throw new Error(`the app role ${role.name} is a superuser: it could rewrite the audit log; use an ordinary role`);
  if (found.rowCount === 0) {
    // Roles are cluster-wide: another database's migration may create it at the same moment.
    await client.query('SAVEPOINT create_role');
    try {
      await client.query(`CREATE ROLE ${ident} LOGIN${password}`);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '42710') throw error;
      await client.query('ROLLBACK TO SAVEPOINT create_role');
    }
  }
  if (role.password !== undefined) await client.query(`ALTER ROLE ${ident} LOGIN${password}`);
}

async function grant(client: pg.ClientBase, role: string, database: string): Promise<void> {
  const ident = pg.escapeIdentifier(role);
  const statements = [
    `GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(database)} TO ${ident}`,
    `GRANT USAGE ON SCHEMA public TO ${ident}`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${ident}`,
    `GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${ident}`,
    ...APPEND_ONLY.map((table) => `REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ${table} FROM ${ident}`),
    ...READ_ONLY.map(
      (table) => `REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ${table} FROM ${ident}`,
    ),
  ];
  for (const statement of statements) await client.query(statement);
}

/** What the connected role may do to the audit log: the router checks itself at start. */
export async function auditPrivileges(
  db: pg.ClientBase | pg.Pool,
): Promise<{ owner: boolean; superuser: boolean; canRewrite: boolean }> {
  const found = await db.query<{ owner: boolean; superuser: boolean; rewrite: boolean }>(
    `SELECT pg_get_userbyid(c.relowner) = current_user AS owner, r.rolsuper AS superuser,
            has_table_privilege('execution_audit_log', 'UPDATE') OR has_table_privilege('execution_audit_log', 'DELETE')
              OR has_table_privilege('execution_audit_log', 'TRUNCATE') AS rewrite
       FROM pg_class c, pg_roles r WHERE c.relname = 'execution_audit_log' AND c.relkind = 'r' AND r.rolname = current_user`,
  );
  const row = found.rows[0];
  return { owner: row?.owner ?? false, superuser: row?.superuser ?? false, canRewrite: row?.rewrite ?? false };
}
