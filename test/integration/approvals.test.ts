import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../services/router/app.js';
import { createPool, type Pool } from '../../services/router/store/pool.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { execClient } from '../helpers/exec-client.js';
import { seedProject, testEnrollment, type SeededProject } from '../helpers/fixtures.js';
import { silentLogger } from '../helpers/logger.js';

describe('approvals under contention', () => {
  let db: TestDatabase;
  let pool: Pool;
  let app: FastifyInstance;
  let acme: SeededProject;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 12, logger: silentLogger() });
    acme = await seedProject(pool);
    // An XEM agent offering a destructive tool, as its manifest says (no process: nothing is dispatched here).
    const agent = `agt_${randomBytes(12).toString('hex')}`;
    await pool.query(
      `INSERT INTO agents (id, project_id, role, registration_name, signing_public_key, curve_public_key, status, manifest) VALUES ($1, $2, 'xem', 'xem-race', $3, $4, 'active', $5)`,
      [agent, acme.project.id, randomBytes(32), randomBytes(32), { workspaces: [acme.workspace.id], tools: [{ name: 'drop_it', description: 'x', risk: 'destructive', parameters: { type: 'object' }, timeout_ms: 1_000 }] }],
    );
    await pool.query('INSERT INTO workspace_agent_bindings (workspace_id, agent_id, project_id) VALUES ($1, $2, $3)', [acme.workspace.id, agent, acme.project.id]);
    app = buildApp({ enrollment: testEnrollment(), logger: silentLogger(), pool });
  });
  afterAll(async () => {
    await app.close();
    await pool.end();
    await db.drop();
  });

  it('approve and reject racing from several reviewers give exactly one outcome, and the invocation follows it', async () => {
    const api = execClient(app, acme.project.id);
    const reviewers = await Promise.all(Array.from({ length: 4 }, (_, index) => api.mintKey(acme.adminKey, `reviewer-${index}`)));
    for (let round = 0; round < 5; round += 1) {
      const call = await api.invoke(acme.adminKey, 'drop_it', {});
      const approvalId = call.body['approval_id'] as string;
      const answers = await Promise.all(reviewers.flatMap((reviewer) => ['approve', 'reject'].map((verdict) => api.call('POST', `/exec/approvals/${approvalId}/${verdict}`, reviewer.key, {}))));
      const winners = answers.filter((answer) => answer.status === 200);
      expect(winners).toHaveLength(1);
      expect(answers.filter((answer) => answer.status === 409).map((answer) => answer.body.error?.code)).toEqual(Array(7).fill('approval_not_pending'));
      const decided = winners[0]!.body['state'] as string;
      const invocation = await api.invocation(acme.adminKey, call.body['id'] as string);
      expect(invocation.state).toBe(decided === 'approved' ? 'queued' : 'rejected');
      const decisions = await pool.query("SELECT count(*)::int AS n FROM execution_audit_log WHERE subject = $1 AND event IN ('approval.approved', 'approval.rejected')", [approvalId]);
      expect(decisions.rows[0].n).toBe(1);
    }
  });
});
