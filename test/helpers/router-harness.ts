import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../services/router/app.js';
import { startMesh, type Mesh } from '../../services/router/mesh/mesh.js';
import { createPool, type Pool } from '../../services/router/store/pool.js';
import type { Logger } from '../../services/runtime/logger.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { bearer, seedProject, testEnrollment, type SeededProject } from './fixtures.js';
import { silentLogger } from './logger.js';

export interface RouterHarness {
  readonly db: TestDatabase;
  readonly pool: Pool;
  readonly app: FastifyInstance;
  readonly mesh: Mesh;
  readonly url: string;
  readonly routerCurvePublicKey: string;
  readonly project: SeededProject;
  mintJoinKey(role?: 'xem' | 'xim'): Promise<string>;
  close(): Promise<void>;
}

/** The router's HTTP API and mesh in this process, on loopback ports, with its own database. */
export async function startRouterHarness(options: { leaseRenewalIntervalMs?: number; heartbeatTimeoutMs?: number; logger?: Logger } = {}): Promise<RouterHarness> {
  const db = await createTestDatabase();
  const logger = options.logger ?? silentLogger();
  const pool = createPool({ connectionString: db.url, max: 10, logger });
  const project = await seedProject(pool, 'acme');
  const leaseRenewalIntervalMs = options.leaseRenewalIntervalMs ?? 200;
  const enrollment = testEnrollment({ leaseRenewalIntervalMs });
  const mesh = await startMesh({
    pool, databaseUrl: db.url, logger, bind: 'tcp://127.0.0.1:*', curveSecretKey: enrollment.curveSecretKey, leaseRenewalIntervalMs,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 1_000, refreshIntervalMs: 500, onFatal: () => undefined,
  });
  const app = buildApp({ logger, pool, enrollment: { ...enrollment, meshEndpoint: mesh.server.endpoint }, mesh });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    db, pool, app, mesh, url, project, routerCurvePublicKey: enrollment.routerCurvePublicKey,
    async mintJoinKey(role = 'xem') {
      const response = await app.inject({ method: 'POST', url: `/${project.project.id}/v1/management/join-keys`, headers: bearer(project.adminKey), payload: { role, name: 'test' } });
      return (response.json() as { key: string }).key;
    },
    async close() {
      await app.close();
      await mesh.close();
      await pool.end();
      await db.drop();
    },
  };
}

export async function agentStatus(pool: Pool, agentId: string): Promise<string | undefined> {
  return (await pool.query<{ status: string }>('SELECT status FROM agents WHERE id = $1', [agentId])).rows[0]?.status;
}
