import { describe, expect, it } from 'vitest';
import { parseEvent } from '../../../services/router/fleet/forward-client.js';
import { createReplicaAuth } from '../../../services/router/fleet/replica-auth.js';
import { decodeNote, encodeNote } from '../../../services/router/fleet/routing-notes.js';
import { WorkerDirectory } from '../../../services/router/inference/workers.js';
import type { Lease } from '../../../services/router/mesh/leases.js';
import type { Queryable } from '../../../services/router/store/db.js';

const KEY = 'a'.repeat(64);
const NOW = 1_800_000_000_000;

describe('replica signatures', () => {
  it('verify once, for the signed body, until they expire; the previous key verifies during a rotation', () => {
    const auth = createReplicaAuth(KEY);
    const signature = auth.sign('{"a":1}', NOW);
    expect(auth.verify(signature, '{"a":2}', NOW)).toBe('bad_signature');
    expect(createReplicaAuth(KEY).verify(signature, '{"a":1}', NOW + 31_000)).toBe('expired');
    expect(auth.verify(signature, '{"a":1}', NOW)).toBe('ok');
    expect(auth.verify(signature, '{"a":1}', NOW + 1)).toBe('replayed');
    const rotated = createReplicaAuth('b'.repeat(64), KEY);
    expect(rotated.verify(createReplicaAuth(KEY).sign('x', NOW), 'x', NOW)).toBe('ok');
    expect(createReplicaAuth('b'.repeat(64)).verify(createReplicaAuth(KEY).sign('x', NOW), 'x', NOW)).toBe(
      'bad_signature',
    );
  });

  it('refuse what is missing, malformed or dated far ahead', () => {
    const auth = createReplicaAuth(KEY);
    expect(auth.verify(undefined, 'x', NOW)).toBe('missing');
    expect(auth.verify('v2.1.00', 'x', NOW)).toBe('malformed');
    expect(auth.verify(`v1.${NOW + 3_600_000}.${'0'.repeat(64)}`, 'x', NOW)).toBe('expired');
  });
});

describe('routing notes', () => {
  it('round-trip a placement and drop malformed or oversized ones', () => {
    const note = encodeNote('rtr_a', { agentId: 'agt_1', hashes: [0, 1, 2 ** 47 + 5], promptCacheKey: 'k' });
    expect(decodeNote(note)).toEqual({
      replica: 'rtr_a',
      placement: { agentId: 'agt_1', hashes: [0, 1, 2 ** 47 + 5], promptCacheKey: 'k' },
    });
    expect(decodeNote(encodeNote('rtr_a', { agentId: 'agt_1', hashes: [] }))?.placement.hashes).toEqual([]);
    expect(decodeNote('not json')).toBeUndefined();
    expect(decodeNote(JSON.stringify({ r: 'rtr_a', a: 'agt_1', h: 'zz,-1' }))).toBeUndefined();
    expect(decodeNote(JSON.stringify({ r: 'rtr_a', a: 'agt_1', h: Array(300).fill('1').join(',') }))).toBeUndefined();
    expect(decodeNote(JSON.stringify({ r: 1, a: 'agt_1', h: '' }))).toBeUndefined();
    expect(encodeNote('r', { agentId: 'a', hashes: [], promptCacheKey: 'k'.repeat(600) })).not.toContain('"k"');
  });
});

describe('forwarded reports', () => {
  it('are taken only in the shapes the broker knows', () => {
    expect(parseEvent('{"kind":"chunks","seq":0,"chunks":[{}]}')).toEqual({ kind: 'chunks', seq: 0, chunks: [{}] });
    expect(parseEvent('{"kind":"done","usage":{"prompt_tokens":1}}')).toEqual({
      kind: 'done',
      usage: { prompt_tokens: 1 },
    });
    expect(parseEvent('{"kind":"error","code":"x","message":"m","retryable":"yes"}')).toEqual({
      kind: 'error',
      code: 'x',
      message: 'm',
      retryable: false,
    });
    for (const line of ['', 'null', '{"kind":"chunks","seq":"0","chunks":[]}', '{"kind":"boom"}'])
      expect(parseEvent(line)).toBeUndefined();
  });
});

describe('the fleet directory', () => {
  const row = (id: string, held: Record<string, unknown>) => ({
    id,
    models: ['m'],
    service_tiers: null,
    status: 'active',
    held_by: 'rtr_other',
    held_by_url: 'http://10.0.0.2:8080',
    lease_load: { healthy: true, in_use: 3, max_concurrent: 8, waiting: 1, kv_usage: 0.5 },
    heartbeat_age_ms: 1_000,
    ...held,
  });
  const db = (rows: unknown[]): Queryable => ({ query: async () => ({ rows }) }) as unknown as Queryable;
  const lease = (status: 'active' | 'stale') =>
    ({ status, capacity: { max_concurrent: 4, in_use: 0 }, health: {} }) as unknown as Lease;
  const live = {
    boundAgents: () => ['agt_local', 'agt_moved'],
    // agt_moved is still bound here (its connection left quietly) but its lease went stale.
    leaseOf: (id: string) => (id === 'agt_local' ? lease('active') : id === 'agt_moved' ? lease('stale') : undefined),
    openOn: (id: string) => (id === 'agt_r1' ? 1 : 0),
    placedSince: (id: string) => (id === 'agt_r1' ? 2 : 0),
  };

  it("lists another replica's fresh agents with its address and load, and leaves out stale, own and unplaced ones", async () => {
    const directory = new WorkerDirectory(
      db([
        row('agt_r1', {}),
        row('agt_stale', { heartbeat_age_ms: 31_000 }),
        row('agt_was_mine', { held_by: 'rtr_me' }),
        row('agt_unplaced', { held_by_url: null }),
        row('agt_revoked', { status: 'stale' }),
        row('agt_local', { held_by: 'rtr_me' }),
        row('agt_moved', { held_by: 'rtr_other' }),
        row('agt_predecessor', { held_by: 'rtr_before_restart', held_by_url: 'http://10.0.0.9:8080' }),
      ]),
      live,
      { replicaId: 'rtr_me', url: () => 'http://10.0.0.9:8080', heartbeatTimeoutMs: 30_000 },
    );
    const views = await directory.views('prj_1');
    // The moved agent is reached through the replica that holds it now, not the stale binding.
    expect(views.map((view) => view.id)).toEqual(['agt_r1', 'agt_local', 'agt_moved']);
    expect(views[2]!.via).toBe('http://10.0.0.2:8080');
    expect(views[0]).toMatchObject({
      via: 'http://10.0.0.2:8080',
      running: 5,
      waiting: 1,
      maxConcurrent: 8,
      kvUsage: 0.5,
    });
    expect(views[1]!.via).toBeUndefined();
  });

  it('without a fleet sees only the agents this router holds', async () => {
    const directory = new WorkerDirectory(db([row('agt_r1', {}), row('agt_local', {})]), live);
    expect((await directory.views('prj_1')).map((view) => view.id)).toEqual(['agt_local']);
  });
});
