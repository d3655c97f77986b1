import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertFakeXemAgent, startAppHarness, type AppHarness } from '../helpers/app-harness.js';
import type { Pool } from '../../services/router/store/pool.js';
import { execClient } from '../helpers/exec-client.js';
import type { SeededProject } from '../helpers/fixtures.js';

describe('approvals under contention', () => {
  let harness: AppHarness;
  let pool: Pool;
  let app: FastifyInstance;
  let acme: SeededProject;

  beforeAll(async () => {
    harness = await startAppHarness({
      poolMax: 12,
      prepare: async (db, project) =>
        void (await insertFakeXemAgent(db, project, 'xem-race', [{ name: 'drop_it', risk: 'destructive' }])),
    });
    ({ pool, app, acme } = harness);
  });
  afterAll(() => harness.close());

  it('approve and reject racing from several reviewers give exactly one outcome, and the invocation follows it', async () => {
    const api = execClient(app, acme.project.id);
    const reviewers = await Promise.all(
      Array.from({ length: 4 }, (_, index) => api.mintKey(acme.adminKey, `reviewer-${index}`)),
    );
    for (let round = 0; round < 5; round += 1) {
      const call = await api.invoke(acme.adminKey, 'drop_it', {});
      const approvalId = call.body['approval_id'] as string;
      const answers = await Promise.all(
        reviewers.flatMap((reviewer) =>
          ['approve', 'reject'].map((verdict) =>
            api.call('POST', `/exec/approvals/${approvalId}/${verdict}`, reviewer.key, {}),
          ),
        ),
      );
      const winners = answers.filter((answer) => answer.status === 200);
      expect(winners).toHaveLength(1);
      expect(answers.filter((answer) => answer.status === 409).map((answer) => answer.body.error?.code)).toEqual(
        Array(7).fill('approval_not_pending'),
      );
      const decided = winners[0]!.body['state'] as string;
      const invocation = await api.invocation(acme.adminKey, call.body['id'] as string);
      expect(invocation.state).toBe(decided === 'approved' ? 'queued' : 'rejected');
      const decisions = await pool.query(
        "SELECT count(*)::int AS n FROM execution_audit_log WHERE subject = $1 AND event IN ('approval.approved', 'approval.rejected')",
        [approvalId],
      );
      expect(decisions.rows[0].n).toBe(1);
    }
  });
});
