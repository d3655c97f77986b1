import { describe, expect, it } from 'vitest';
import { leastLoaded, roundRobin } from '../../bench/sim/policies.js';
import { simulate } from '../../bench/sim/simulate.js';
import { chain } from '../../bench/sim/workloads.js';
import type { SimRequest } from '../../bench/sim/worker.js';

// Sanity checks of the scheduler bench's simulator (research/inference-anchors.md §4.4): if these
// fail, its figures mean nothing.
const groups = (count: number, perGroup: number, spacingMs: number): SimRequest[] =>
  Array.from({ length: count * perGroup }, (_, id) => {
    const group = id % count;
    const shared = Array.from({ length: 40 }, (_, block) => group * 1_000 + block);
    return { id, arrival: id * spacingMs, blocks: chain('t', [...shared, 500_000 + id]), outputTokens: 4, tenant: 't' };
  });

describe('the prefix-routing simulator', () => {
  it('with one worker and room for everything, hits exactly the reusable share of the prompts', () => {
    const requests = groups(5, 20, 50);
    const result = simulate({ name: 't', workers: 1, capacityBlocks: 100_000, requests }, roundRobin());
    // Each request has 41 blocks; all but the first request of each group reuse 40 of them.
    const reusable = (requests.length - 5) * 40 * 16;
    expect(result.hitRate).toBeCloseTo(reusable / (requests.length * 41 * 16), 6);
    expect(result.completed).toBe(requests.length);
  });

  it('spreads one group over N workers under round robin, so each worker warms up once', () => {
    const requests = groups(1, 80, 50);
    const four = simulate({ name: 't', workers: 4, capacityBlocks: 100_000, requests }, roundRobin());
    const one = simulate({ name: 't', workers: 1, capacityBlocks: 100_000, requests }, roundRobin());
    expect(one.hitRate - four.hitRate).toBeCloseTo((3 * 40) / (80 * 41), 6);
  });

  it('evicts when the cache is too small, and reports TTFT and balance', () => {
    const requests = groups(20, 5, 20);
    const tight = simulate({ name: 't', workers: 2, capacityBlocks: 200, requests }, leastLoaded());
    const roomy = simulate({ name: 't', workers: 2, capacityBlocks: 100_000, requests }, leastLoaded());
    expect(tight.hitRate).toBeLessThan(roomy.hitRate);
    expect(tight.ttftP99).toBeGreaterThan(0);
    expect(roomy.maxMeanLoad).toBeGreaterThanOrEqual(1);
  });
});
