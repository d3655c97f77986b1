import { createHash } from 'node:crypto';
import { ROLES } from '../people/roles.js';
import { insertApiKey, SCOPES } from './api-keys.js';
import { findUserByEmail, insertUser, normalizeEmail, upsertMembership } from './principals.js';
import { withTransaction, type Queryable } from './db.js';
import type { Pool } from './pool.js';
import { createProject, findDefaultWorkspace, findProject, type Project, type Workspace } from './projects.js';

export interface BootstrapJoinKey {
  readonly role: 'xem' | 'xim';
  readonly name: string;
  /** SHA-256 of the key's secret part (after `xjk_`), hex. */
  readonly sha256: string;
}

export interface BootstrapPlan {
  readonly projectSlug: string;
  /** SHA-256 of the admin key's secret part (after `xero_<slug>_`), hex. */
  readonly adminKeySha256?: string;
  /** The bootstrap admin user who owns that key (every role in the first project). */
  readonly adminEmail?: string;
  readonly joinKeys?: readonly BootstrapJoinKey[];
}

/**
 * Makes a fresh deployment usable: the first project with its default workspace, an admin API
 * key with every scope and pre-provisioned join keys — from hashes only, so the router never
 * holds the secrets. Idempotent: ids derive from the hashes, rows that exist are left alone.
 */
export async function ensureBootstrap(
  pool: Pool,
  plan: BootstrapPlan,
): Promise<{ project: Project; workspace: Workspace }> {
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(7240001)');
    const existing = await findProject(client, plan.projectSlug);
    const created = existing
      ? undefined
      : await createProject(client, { slug: plan.projectSlug, name: plan.projectSlug });
    const project = existing ?? created!.project;
    const workspace = created?.workspace ?? (await findDefaultWorkspace(client, project.id))!;
    // The deployment's first project is the platform's (its admins promote chat templates).
    await client.query(
      'UPDATE projects SET is_platform = true WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM projects WHERE is_platform)',
      [project.id],
    );
    if (plan.adminKeySha256) {
      const id = derivedId('key', plan.adminKeySha256);
      const found = await client.query('SELECT 1 FROM api_keys WHERE id = $1', [id]);
      if (found.rowCount === 0) {
        const secretHash = Buffer.from(plan.adminKeySha256, 'hex');
        const admin = await ensureAdminUser(client, project.id, plan.adminEmail ?? DEFAULT_ADMIN_EMAIL);
        await insertApiKey(client, {
          id,
          principalId: admin,
          projectId: project.id,
          name: 'bootstrap admin',
          scopes: SCOPES,
          secretHash,
          prefix: '(bootstrap)',
          expiresAt: null,
        });
      }
    }
    for (const key of plan.joinKeys ?? []) {
      const bound = REGISTRATION_NAME.test(key.name) ? key.name : null;
      await client.query(
        // Bound to the agent it was provisioned for (a copy enrolls nothing else), and allowed to
        // replace that agent: deploying a new key for a name is the operator re-enrolling it.
        `INSERT INTO join_keys (id, project_id, role, name, key_hash, provisioned, registration_name, allow_replace) VALUES ($1, $2, $3, $4, $5, true, $6, $7)
         ON CONFLICT DO NOTHING`,
        [
          derivedId('jk', key.sha256),
          project.id,
          key.role,
          key.name,
          Buffer.from(key.sha256, 'hex'),
          bound,
          bound !== null,
        ],
      );
    }
    return { project, workspace };
  });
}

export const DEFAULT_ADMIN_EMAIL = 'admin@localhost';

/**
 * The person the bootstrap key belongs to: found by email, or made with a stable id, and an
 * admin (with every role) of the first project. No password: they set one, or sign in by OIDC.
 */
async function ensureAdminUser(client: Queryable, projectId: string, email: string): Promise<string> {
  const existing = await findUserByEmail(client, email);
  const id =
    existing?.id ??
    (
      await insertUser(client, {
        id: `usr_${createHash('sha256')
          .update(`xerotier-bootstrap-admin:${normalizeEmail(email)}`)
          .digest('hex')
          .slice(0, 24)}`,
        email,
        displayName: 'Bootstrap admin',
      })
    ).id;
  await upsertMembership(client, projectId, id, ROLES);
  return id;
}

const REGISTRATION_NAME = /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;

// Stable ids for rows made from hashes; a second hash keeps the stored digest out of the id.
function derivedId(prefix: 'key' | 'jk', sha256: string): string {
  return `${prefix}_${createHash('sha256').update(`xerotier-bootstrap:${sha256}`).digest('hex').slice(0, 24)}`;
}

/** Parses `role:name:sha256hex` entries (XEROTIER_BOOTSTRAP_JOIN_KEYS); throws naming a bad entry. */
export function parseBootstrapJoinKeys(entries: readonly string[]): BootstrapJoinKey[] {
  return entries.map((entry) => {
    const match = /^(xem|xim):([A-Za-z0-9][A-Za-z0-9_.-]{0,99}):([0-9a-f]{64})$/.exec(entry);
    if (!match) throw new Error(`bootstrap join key entry "${entry.slice(0, 40)}" is not role:name:sha256hex`);
    return { role: match[1] as 'xem' | 'xim', name: match[2]!, sha256: match[3]! };
  });
}
