import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppDependencies } from '../../services/router/app.js';
import type { Queryable } from '../../services/router/store/db.js';
import { createPool, type Pool } from '../../services/router/store/pool.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { seedProject, testEnrollment, type SeededProject } from './fixtures.js';
import { silentLogger } from './logger.js';

export interface AppHarness {
  readonly db: TestDatabase;
  readonly pool: Pool;
  readonly app: FastifyInstance;
  /** A seeded project with its admin key and default workspace. */
  readonly acme: SeededProject;
  close(): Promise<void>;
}

/**
 * The router's HTTP app (not listening: tests inject) on a fresh database with one seeded
 * project. `app` adds or overrides dependencies; `prepare` runs before the app is built.
 */
export async function startAppHarness(
  options: {
    poolMax?: number;
    /** Extra dependencies, or a function of the pool and project making them (an OIDC sign-in, say). */
    app?: Partial<AppDependencies> | ((pool: Pool, acme: SeededProject) => Partial<AppDependencies>);
    prepare?: (pool: Pool, acme: SeededProject) => Promise<void>;
  } = {},
): Promise<AppHarness> {
  const db = await createTestDatabase();
  const pool = createPool({ connectionString: db.url, max: options.poolMax ?? 4, logger: silentLogger() });
  const acme = await seedProject(pool);
  await options.prepare?.(pool, acme);
  const extra = typeof options.app === 'function' ? options.app(pool, acme) : options.app;
  const app = buildApp({ enrollment: testEnrollment(), logger: silentLogger(), pool, ...extra });
  return {
    db,
    pool,
    app,
    acme,
    async close() {
      await app.close();
      await pool.end();
      await db.drop();
    },
  };
}

export interface FakeTool {
  readonly name: string;
  readonly risk: 'read' | 'write' | 'destructive' | 'irreversible';
}

/**
 * An active XEM agent row offering `tools` in the project's default workspace, bound to it, as
 * its manifest would say — no process: nothing is dispatched to it.
 */
export async function insertFakeXemAgent(
  db: Queryable,
  project: SeededProject,
  name: string,
  tools: readonly FakeTool[],
): Promise<string> {
  const agent = `agt_${randomBytes(12).toString('hex')}`;
  const manifest = {
    workspaces: [project.workspace.id],
    tools: tools.map((tool) => ({
      ...tool,
      description: tool.name,
      parameters: { type: 'object' },
      timeout_ms: 1_000,
    })),
  };
  await db.query(
    `INSERT INTO agents (id, project_id, role, registration_name, signing_public_key, curve_public_key, status, manifest) VALUES ($1, $2, 'xem', $3, $4, $5, 'active', $6)`,
    [agent, project.project.id, name, randomBytes(32), randomBytes(32), manifest],
  );
  await db.query('INSERT INTO workspace_agent_bindings (workspace_id, agent_id, project_id) VALUES ($1, $2, $3)', [
    project.workspace.id,
    agent,
    project.project.id,
  ]);
  return agent;
}
