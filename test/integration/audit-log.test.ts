import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAudit, appendAuditBatch, verifyAuditChain } from '../../services/router/store/audit-log.js';
import { withTransaction } from '../../services/router/store/db.js';
import { createPool, type Pool } from '../../services/router/store/pool.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { silentLogger } from '../helpers/logger.js';

describe('the hash-chained execution audit log', () => {
  let db: TestDatabase;
  let pool: Pool;

  beforeEach(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 12, logger: silentLogger() });
  });
  afterEach(async () => {
    await pool.end();
    await db.drop();
  });

  const entry = (writer: number, index: number) => ({ projectId: null, actor: `router`, event: 'test.append', subject: `w${writer}`, detail: { writer, index } });
  const positions = async () => (await pool.query<{ position: string }>('SELECT position::text FROM execution_audit_log l ORDER BY l.position')).rows.map((row) => Number(row.position));

  it('keeps one unbroken chain under concurrent writers, single entries, batches and rolled-back transactions alike', async () => {
    const before = (await positions()).length;
    await Promise.all(Array.from({ length: 10 }, async (_, writer) => {
      for (let index = 0; index < 30; index += 1) {
        if (index % 3 === 0) await appendAuditBatch(pool, [entry(writer, index), entry(writer, index + 1000)]);
        else if (index % 7 === 0) {
          await withTransaction(pool, async (client) => {
            await appendAudit(client, entry(writer, index));
            throw new Error('roll back');
          }).catch(() => undefined);
        } else await appendAudit(pool, entry(writer, index));
      }
    }));
    const all = await positions();
    expect(all).toEqual(Array.from({ length: all.length }, (_, index) => index + 1));
    // Per writer: 10 batches of two, 3 rolled back (7, 14, 28), 17 single entries.
    expect(all.length - before).toBe(10 * (10 * 2 + 17));
    expect(await verifyAuditChain(pool)).toEqual({ ok: true, entries: all.length });
  });

  it('refuses UPDATE, DELETE and TRUNCATE, even with replication triggers switched off', async () => {
    await appendAudit(pool, entry(1, 1));
    await expect(pool.query("UPDATE execution_audit_log SET event = 'test.forged'")).rejects.toThrow(/append-only/);
    await expect(pool.query('DELETE FROM execution_audit_log')).rejects.toThrow(/append-only/);
    await expect(pool.query('TRUNCATE execution_audit_log')).rejects.toThrow(/append-only/);
    await withTransaction(pool, async (client) => {
      await client.query("SET LOCAL session_replication_role = 'replica'");
      await expect(client.query("UPDATE execution_audit_log SET event = 'test.forged'")).rejects.toThrow(/append-only/);
    }).catch(() => undefined);
    expect(await verifyAuditChain(pool)).toMatchObject({ ok: true });
  });

  it('names the first broken entry when a superuser edits a row behind the triggers', async () => {
    for (let index = 0; index < 20; index += 1) await appendAudit(pool, entry(1, index));
    const target = (await positions())[12]!;
    await pool.query('ALTER TABLE execution_audit_log DISABLE TRIGGER audit_refuse_update');
    await pool.query(`UPDATE execution_audit_log SET detail = '{"writer": 1, "index": "nothing to see"}' WHERE position = $1`, [target]);
    await pool.query('ALTER TABLE execution_audit_log ENABLE ALWAYS TRIGGER audit_refuse_update');
    expect(await verifyAuditChain(pool)).toMatchObject({ ok: false, first_broken: { position: String(target), problem: 'hash_mismatch' } });
  });

  it('names the gap when a row is deleted, and the break when a hash is recomputed to cover an edit', async () => {
    for (let index = 0; index < 10; index += 1) await appendAudit(pool, entry(2, index));
    const all = await positions();
    await pool.query('ALTER TABLE execution_audit_log DISABLE TRIGGER audit_refuse_update');
    await pool.query('DELETE FROM execution_audit_log WHERE position = $1', [all[4]]);
    expect(await verifyAuditChain(pool)).toMatchObject({ ok: false, first_broken: { position: String(all[5]), problem: 'position_gap' } });
    // A forger who recomputes the edited row's own hash still breaks the next row's link.
    await pool.query(
      `UPDATE execution_audit_log SET detail = '{"forged": true}',
         hash = audit_entry_hash(prev_hash, position, at, project_id, actor, event, subject, '{"forged": true}'::jsonb, signature) WHERE position = $1`,
      [all[1]],
    );
    await pool.query('ALTER TABLE execution_audit_log ENABLE ALWAYS TRIGGER audit_refuse_update');
    expect(await verifyAuditChain(pool)).toMatchObject({ ok: false, first_broken: { position: String(all[2]), problem: 'chain_break' } });
  });
});
