import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditSigner, publicKeyHex, signCheckpoint, type Checkpoint } from '../../services/router/audit/checkpoint.js';
import { fileSink, createCheckpointer } from '../../services/router/audit/checkpointer.js';
import { verifyAudit } from '../../services/router/audit/verify.js';
import { appendAudit, appendAuditBatch, verifyAuditChain } from '../../services/router/store/audit-log.js';
import { withTransaction } from '../../services/router/store/db.js';
import { createPool, type Pool } from '../../services/router/store/pool.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { silentLogger } from '../helpers/logger.js';

describe('the hash-chained execution audit log', () => {
  let db: TestDatabase;
  /** As the router connects: the app role. */
  let pool: Pool;
  /** As the schema's owner, a superuser here: the attacker who can switch triggers off. */
  let superuser: Pool;

  beforeEach(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 12, logger: silentLogger() });
    superuser = createPool({ connectionString: db.ownerUrl, max: 2, logger: silentLogger() });
  });
  afterEach(async () => {
    await pool.end();
    await superuser.end();
    await db.drop();
  });

  const entry = (writer: number, index: number) => ({
    projectId: null,
    actor: `router`,
    event: 'test.append',
    subject: `w${writer}`,
    detail: { writer, index },
  });
  const positions = async () =>
    (
      await pool.query<{ position: string }>('SELECT position::text FROM execution_audit_log l ORDER BY l.position')
    ).rows.map((row) => Number(row.position));

  it('keeps one unbroken chain under concurrent writers, single entries, batches and rolled-back transactions alike', async () => {
    const before = (await positions()).length;
    await Promise.all(
      Array.from({ length: 10 }, async (_, writer) => {
        for (let index = 0; index < 30; index += 1) {
          if (index % 3 === 0) await appendAuditBatch(pool, [entry(writer, index), entry(writer, index + 1000)]);
          else if (index % 7 === 0) {
            await withTransaction(pool, async (client) => {
              await appendAudit(client, entry(writer, index));
              throw new Error('roll back');
            }).catch(() => undefined);
          } else await appendAudit(pool, entry(writer, index));
        }
      }),
    );
    const all = await positions();
    expect(all).toEqual(Array.from({ length: all.length }, (_, index) => index + 1));
    // Per writer: 10 batches of two, 3 rolled back (7, 14, 28), 17 single entries.
    expect(all.length - before).toBe(10 * (10 * 2 + 17));
    expect(await verifyAuditChain(pool)).toEqual({ ok: true, entries: all.length });
  });

  it("gives the router's role no way to change history: no UPDATE, DELETE, TRUNCATE, ALTER or DISABLE TRIGGER", async () => {
    await appendAudit(pool, entry(1, 1));
    for (const statement of [
      "UPDATE execution_audit_log SET event = 'test.forged'",
      'DELETE FROM execution_audit_log',
      'TRUNCATE execution_audit_log',
      'ALTER TABLE execution_audit_log DISABLE TRIGGER audit_refuse_update',
      'ALTER TABLE execution_audit_log DISABLE TRIGGER ALL',
      'DROP TRIGGER audit_refuse_update ON execution_audit_log',
      'ALTER TABLE execution_audit_log ADD COLUMN x int',
    ]) {
      await expect(pool.query(statement), statement).rejects.toMatchObject({
        code: expect.stringMatching(/^(42501|42809)$/),
      });
    }
    expect((await pool.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0].rolsuper).toBe(
      false,
    );
    expect(await verifyAuditChain(pool)).toMatchObject({ ok: true });
  });

  it('refuses UPDATE, DELETE and TRUNCATE even to its owner, even with replication triggers switched off', async () => {
    await appendAudit(pool, entry(1, 1));
    await expect(superuser.query("UPDATE execution_audit_log SET event = 'test.forged'")).rejects.toThrow(
      /append-only/,
    );
    await expect(superuser.query('DELETE FROM execution_audit_log')).rejects.toThrow(/append-only/);
    await expect(superuser.query('TRUNCATE execution_audit_log')).rejects.toThrow(/append-only/);
    await withTransaction(superuser, async (client) => {
      await client.query("SET LOCAL session_replication_role = 'replica'");
      await expect(client.query("UPDATE execution_audit_log SET event = 'test.forged'")).rejects.toThrow(/append-only/);
    }).catch(() => undefined);
    expect(await verifyAuditChain(pool)).toMatchObject({ ok: true });
  });

  it('names the first broken entry when a superuser edits a row behind the triggers', async () => {
    for (let index = 0; index < 20; index += 1) await appendAudit(pool, entry(1, index));
    const target = (await positions())[12]!;
    await superuser.query('ALTER TABLE execution_audit_log DISABLE TRIGGER audit_refuse_update');
    await superuser.query(
      `UPDATE execution_audit_log SET detail = '{"writer": 1, "index": "nothing to see"}' WHERE position = $1`,
      [target],
    );
    await superuser.query('ALTER TABLE execution_audit_log ENABLE ALWAYS TRIGGER audit_refuse_update');
    expect(await verifyAuditChain(pool)).toMatchObject({
      ok: false,
      first_broken: { position: String(target), problem: 'hash_mismatch' },
    });
  });

  it('names the gap when a row is deleted, and the break when a hash is recomputed to cover an edit', async () => {
    for (let index = 0; index < 10; index += 1) await appendAudit(pool, entry(2, index));
    const all = await positions();
    await superuser.query('ALTER TABLE execution_audit_log DISABLE TRIGGER audit_refuse_update');
    await superuser.query('DELETE FROM execution_audit_log WHERE position = $1', [all[4]]);
    expect(await verifyAuditChain(pool)).toMatchObject({
      ok: false,
      first_broken: { position: String(all[5]), problem: 'position_gap' },
    });
    // A forger who recomputes the edited row's own hash still breaks the next row's link.
    await superuser.query(
      `UPDATE execution_audit_log SET detail = '{"forged": true}',
         hash = audit_entry_hash(prev_hash, position, at, project_id, actor, event, subject, '{"forged": true}'::jsonb, signature) WHERE position = $1`,
      [all[1]],
    );
    await superuser.query('ALTER TABLE execution_audit_log ENABLE ALWAYS TRIGGER audit_refuse_update');
    expect(await verifyAuditChain(pool)).toMatchObject({
      ok: false,
      first_broken: { position: String(all[2]), problem: 'chain_break' },
    });
  });

  describe('against a checkpoint kept outside the database', () => {
    const signer = auditSigner('5a'.repeat(32));
    const dir = mkdtempSync(join(tmpdir(), 'xerotier-checkpoints-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** Writes entries, lets the checkpointer sign the head into its file, and reads the checkpoint back from there. */
    async function checkpointAfter(entries: number): Promise<Checkpoint> {
      for (let index = 0; index < entries; index += 1) await appendAudit(pool, entry(3, index));
      const checkpointer = createCheckpointer({
        db: pool,
        signer,
        sinks: [fileSink(dir)],
        logger: silentLogger(),
        intervalMs: 60_000,
      });
      const signed = await checkpointer.tick(true);
      await checkpointer.close();
      const lines = readFileSync(join(dir, 'checkpoints.jsonl'), 'utf8').trim().split('\n');
      const kept = JSON.parse(lines[lines.length - 1]!) as Checkpoint;
      expect(kept).toEqual(signed);
      return kept;
    }
    const verify = (checkpoint: Checkpoint) => verifyAudit(pool, { checkpoint, auditKeyHex: publicKeyHex(signer) });

    it('holds while the chain only grows', async () => {
      const checkpoint = await checkpointAfter(5);
      for (let index = 0; index < 3; index += 1) await appendAudit(pool, entry(4, index));
      expect(await verify(checkpoint)).toMatchObject({ ok: true, checkpoint: { ok: true, problem: null } });
    });

    it('reveals the newest rows deleted, which the chain alone cannot', async () => {
      const checkpoint = await checkpointAfter(8);
      for (let index = 0; index < 4; index += 1) await appendAudit(pool, entry(4, index));
      await superuser.query('ALTER TABLE execution_audit_log DISABLE TRIGGER audit_refuse_update');
      await superuser.query('DELETE FROM execution_audit_log WHERE position > $1', [checkpoint.position - 3]);
      await superuser.query('ALTER TABLE execution_audit_log ENABLE ALWAYS TRIGGER audit_refuse_update');
      expect(await verifyAuditChain(pool)).toMatchObject({ ok: true });
      expect(await verify(checkpoint)).toMatchObject({
        ok: false,
        checkpoint: { position: checkpoint.position, ok: false, problem: 'truncated', head: checkpoint.position - 3 },
      });
    });

    it('reveals a whole chain recomputed after a forged row, which the chain alone cannot', async () => {
      const checkpoint = await checkpointAfter(10);
      await superuser.query('ALTER TABLE execution_audit_log DISABLE TRIGGER audit_refuse_update');
      await superuser.query(`DO $$ DECLARE r record; prev bytea; BEGIN
          SELECT hash INTO prev FROM execution_audit_log WHERE position = 2;
          FOR r IN SELECT * FROM execution_audit_log WHERE position >= 3 ORDER BY position LOOP
            UPDATE execution_audit_log SET detail = CASE WHEN r.position = 3 THEN '{"forged": true}'::jsonb ELSE r.detail END, prev_hash = prev,
                   hash = audit_entry_hash(prev, r.position, r.at, r.project_id, r.actor, r.event, r.subject,
                                           CASE WHEN r.position = 3 THEN '{"forged": true}'::jsonb ELSE r.detail END, r.signature)
             WHERE position = r.position RETURNING hash INTO prev;
          END LOOP; END $$`);
      await superuser.query('ALTER TABLE execution_audit_log ENABLE ALWAYS TRIGGER audit_refuse_update');
      expect(await verifyAuditChain(pool)).toMatchObject({ ok: true });
      expect(await verify(checkpoint)).toMatchObject({ ok: false, checkpoint: { ok: false, problem: 'rechained' } });
    });

    it('refuses a checkpoint signed by any other key than the pinned one', async () => {
      const checkpoint = await checkpointAfter(2);
      const forged = signCheckpoint(
        { chain: 'global', position: checkpoint.position, hash: checkpoint.hash, at: checkpoint.at },
        auditSigner('77'.repeat(32)),
      );
      expect(await verify(forged)).toMatchObject({ ok: false, checkpoint: { problem: 'checkpoint_invalid' } });
    });
  });
});
