import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { processStartTicks, stopLeftoverGroup } from '../../../services/xem-agent/executors/command.js';
import { openOutbox } from '../../../services/xem-agent/outbox.js';

const dir = mkdtempSync(join(tmpdir(), 'xerotier-outbox-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const key = { invocation_id: 'inv_a', attempt: 1 };

describe('XEM outbox', () => {
  it('claims a dispatch once, keeps a result until acknowledged, and remembers both across reopening', () => {
    const path = join(dir, 'queue.sqlite');
    const first = openOutbox(path);
    expect(first.claim(key, 1)).toBe(true);
    expect(first.claim(key, 2)).toBe(false);
    expect(first.claim({ ...key, attempt: 2 }, 3)).toBe(true);
    first.finish(key, { frameId: 'f1', type: 'exec.result', body: { invocation_id: 'inv_a', status: 'succeeded' } });
    first.close();

    const second = openOutbox(path);
    expect(second.claim(key, 4)).toBe(false);
    expect(second.pending()).toEqual([
      { seq: 1, frameId: 'f1', type: 'exec.result', body: { invocation_id: 'inv_a', status: 'succeeded' } },
    ]);
    expect(second.unfinished()).toEqual([{ invocation_id: 'inv_a', attempt: 2, pgid: null, started_ticks: null }]);
    second.finish(
      { ...key, attempt: 2 },
      { frameId: 'f2', type: 'exec.result', body: {} },
      { frameId: 'f3', type: 'exec.result', body: {} },
    );
    expect(second.pending(1).map((frame) => frame.frameId)).toEqual(['f2', 'f3']);
    second.acknowledged('f1', 'f2', 'f3');
    expect(second.pending()).toEqual([]);
    second.prune(Number.MAX_SAFE_INTEGER);
    expect(second.claim(key, 5)).toBe(true);
    second.close();
  });

  it('opens a file an older agent wrote (no process columns) and adds them', () => {
    const path = join(dir, 'old.sqlite');
    const old = new Database(path);
    old.exec(
      'CREATE TABLE dispatches (invocation_id TEXT NOT NULL, attempt INTEGER NOT NULL, finished INTEGER NOT NULL DEFAULT 0, received_at INTEGER NOT NULL, PRIMARY KEY (invocation_id, attempt))',
    );
    old.exec("INSERT INTO dispatches VALUES ('inv_old', 1, 0, 1)");
    old.close();
    const outbox = openOutbox(path);
    outbox.started({ invocation_id: 'inv_old', attempt: 1 }, 4242, '99');
    expect(outbox.unfinished()).toEqual([{ invocation_id: 'inv_old', attempt: 1, pgid: 4242, started_ticks: '99' }]);
    outbox.close();
  });

  it('stops a leftover process group only when its leader is still the process that was started', async () => {
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const ticks = processStartTicks(child.pid!);
    expect(ticks).toMatch(/^\d+$/);
    expect(stopLeftoverGroup(child.pid!, String(Number(ticks) + 1))).toBe(false);
    expect(processStartTicks(child.pid!)).toBe(ticks);
    expect(stopLeftoverGroup(child.pid!, ticks)).toBe(true);
    await exited;
    expect(stopLeftoverGroup(child.pid!, ticks)).toBe(false);
  });
});
