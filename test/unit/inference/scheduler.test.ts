import { describe, expect, it } from 'vitest';
import { prefixHashes, tenantSalt } from '../../../services/router/inference/prefix-hash.js';
import { PrefixIndex } from '../../../services/router/inference/prefix-index.js';
import { chooseWorker, type RoutingMemory, type WorkerView } from '../../../services/router/inference/scheduler.js';

const worker = (id: string, extra: Partial<WorkerView> = {}): WorkerView => ({
  id,
  models: ['m'],
  healthy: true,
  tiers: ['gpu_nvidia_shared'],
  running: 0,
  waiting: 0,
  maxConcurrent: 8,
  kvUsage: 0,
  ...extra,
});
const memoryOf = (index: PrefixIndex, sticky: Record<string, string> = {}): RoutingMemory => ({
  matched: (id, hashes) => index.matched(id, hashes),
  stickyWorker: (key) => sticky[key],
});
const prompt = (system: string, question: string) => `${system.repeat(40)}${question.repeat(10)}`;

describe('prefix hashes', () => {
  it('chain full 64-character blocks, so equal hashes mean equal prefixes', () => {
    const a = prefixHashes(prompt('You are helpful. ', 'What is a lease? '), 'm', 'salt');
    const b = prefixHashes(prompt('You are helpful. ', 'How do I drain? '), 'm', 'salt');
    expect(a.length).toBe(Math.floor(prompt('You are helpful. ', 'What is a lease? ').length / 64));
    const common = a.findIndex((hash, index) => hash !== b[index]);
    expect(common).toBeGreaterThan(5);
    expect(a.slice(common)).not.toEqual(expect.arrayContaining([b[common]]));
    expect(prefixHashes('short', 'm', 'salt')).toEqual([]);
  });

  it('differ per tenant and per model for the same text', () => {
    const text = prompt('Shared system prompt. ', 'q ');
    const one = prefixHashes(text, 'm', tenantSalt('secret', 'proj_a'));
    const two = prefixHashes(text, 'm', tenantSalt('secret', 'proj_b'));
    expect(one.some((hash) => two.includes(hash))).toBe(false);
    expect(prefixHashes(text, 'other-model', tenantSalt('secret', 'proj_a'))[0]).not.toBe(one[0]);
  });
});

describe("the router's prefix index", () => {
  it('matches leading blocks only, and forgets least recently used blocks past capacity', () => {
    const index = new PrefixIndex(() => 5);
    index.record('w1', [1, 2, 3]);
    expect(index.matched('w1', [1, 2, 9])).toBe(2);
    expect(index.matched('w1', [9, 2, 3])).toBe(0);
    index.record('w1', [4, 5, 6]);
    expect(index.matched('w1', [1, 2, 3])).toBe(0);
    expect(index.matched('w1', [4, 5, 6])).toBe(3);
  });
});

describe('chooseWorker', () => {
  const hashes = [11, 12, 13, 14];

  it('keeps only healthy workers serving the model in the tier, and says why when none can', () => {
    const memory = memoryOf(new PrefixIndex(() => 100));
    const workers = [
      worker('a', { models: ['other'] }),
      worker('b', { healthy: false }),
      worker('c', { tiers: ['free'] }),
      worker('d'),
    ];
    expect(
      chooseWorker(workers, { model: 'm', tier: 'gpu_nvidia_shared', prefixHashes: hashes }, memory),
    ).toMatchObject({ ok: true, workerId: 'd' });
    expect(
      chooseWorker(workers.slice(0, 3), { model: 'm', tier: 'gpu_nvidia_shared', prefixHashes: hashes }, memory),
    ).toEqual({ ok: false, reason: 'no_worker_for_model' });
    expect(
      chooseWorker([worker('d', { running: 8, waiting: 8 })], { model: 'm', prefixHashes: hashes }, memory),
    ).toEqual({ ok: false, reason: 'no_capacity' });
    // A worker that names no tiers serves every tier.
    const { tiers: _, ...tierless } = worker('e');
    expect(
      chooseWorker([...workers.slice(0, 3), tierless], { model: 'm', tier: 'free', prefixHashes: hashes }, memory),
    ).toMatchObject({ ok: true });
    expect(
      chooseWorker([workers[2]!, tierless], { model: 'm', tier: 'self_hosted', prefixHashes: hashes }, memory),
    ).toMatchObject({ ok: true, workerId: 'e' });
  });

  it('follows the cached prefix, but not onto a worker past the load bound', () => {
    const index = new PrefixIndex(() => 100);
    index.record('b', hashes);
    const memory = memoryOf(index);
    expect(
      chooseWorker([worker('a'), worker('b', { running: 1 })], { model: 'm', prefixHashes: hashes }, memory),
    ).toMatchObject({ workerId: 'b', reason: 'affinity', matchedBlocks: 4 });
    // b holds the prefix but already carries far more than its share.
    const piled = chooseWorker(
      [worker('a'), worker('b', { running: 6 }), worker('c', { running: 1 })],
      { model: 'm', prefixHashes: hashes },
      memory,
    );
    expect(piled).toMatchObject({ ok: true, workerId: 'a' });
  });

  it('honours prompt_cache_key: the same worker while in bounds, a stable one otherwise', () => {
    const memory = memoryOf(new PrefixIndex(() => 100), { 'conv-1': 'b' });
    expect(
      chooseWorker([worker('a'), worker('b')], { model: 'm', prefixHashes: [], promptCacheKey: 'conv-1' }, memory),
    ).toMatchObject({ workerId: 'b', reason: 'cache_key' });
    const first = chooseWorker(
      [worker('a'), worker('b'), worker('c')],
      { model: 'm', prefixHashes: [], promptCacheKey: 'conv-2' },
      memory,
    );
    const again = chooseWorker(
      [worker('c'), worker('a'), worker('b')],
      { model: 'm', prefixHashes: [], promptCacheKey: 'conv-2' },
      memory,
    );
    expect(first.ok && again.ok && first.workerId === again.workerId).toBe(true);
  });

  it('spreads cold requests by load', () => {
    const memory = memoryOf(new PrefixIndex(() => 100));
    expect(
      chooseWorker(
        [worker('a', { running: 3 }), worker('b', { running: 1 })],
        { model: 'm', prefixHashes: hashes },
        memory,
      ),
    ).toMatchObject({ workerId: 'b', reason: 'least_loaded' });
  });
});
