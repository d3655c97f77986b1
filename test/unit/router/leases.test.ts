import { describe, expect, it } from 'vitest';
import type { FrameBody } from '../../../services/protocol/frame-bodies.js';
import { LeaseBook } from '../../../services/router/mesh/leases.js';

const renewal = (extra: Partial<FrameBody<'lease_renewal'>> = {}): FrameBody<'lease_renewal'> =>
  ({
    manifest_hash: 'h1',
    manifest_version: 1,
    capacity: { max_concurrent: 2, in_use: 0 },
    in_flight: [],
    ...extra,
  }) as FrameBody<'lease_renewal'>;

/** Leases decide by the times they are given (the mesh passes its clock's): no waiting here. */
describe('lease book', () => {
  it('goes stale only past the heartbeat timeout, once, and active again on the next renewal', () => {
    const book = new LeaseBook();
    expect(book.renew('agt_a', renewal(), 1_000).becameActive).toBe(true);
    expect(book.sweep(1_000 + 5_000, 5_000)).toEqual([]);
    expect(book.sweep(1_000 + 5_001, 5_000)).toEqual(['agt_a']);
    expect(book.sweep(1_000 + 60_000, 5_000)).toEqual([]);
    expect(book.renew('agt_a', renewal(), 70_000).becameActive).toBe(true);
    expect(book.renew('agt_a', renewal(), 71_000).becameActive).toBe(false);
  });

  it('adopts agents the database calls active (a restarted router), and lets them go stale from their last heartbeat', () => {
    const book = new LeaseBook(() => 'h1');
    book.adopt('agt_b', 10_000);
    expect(book.sweep(14_000, 5_000)).toEqual([]);
    expect(book.sweep(15_001, 5_000)).toEqual(['agt_b']);
  });

  it('asks for a manifest when the hash changed and none came with it', () => {
    const book = new LeaseBook(() => 'h1');
    expect(book.renew('agt_c', renewal({ manifest_hash: 'h2' }), 0)).toMatchObject({
      needManifest: true,
      manifestChanged: false,
    });
  });
});
