import type { Queryable } from '../store/db.js';
import { findEndpoint, type EndpointRecord } from '../store/endpoints.js';
import { ExpiringCache } from './expiring-cache.js';

/**
 * Endpoints as inference requests read them: one query per endpoint per second instead of one
 * per request (they change by hand, rarely; a change shows within `ttlMs` on every router).
 */
export class EndpointCache {
  private readonly cache: ExpiringCache<EndpointRecord | undefined>;

  constructor(
    private readonly db: Queryable,
    ttlMs = 1_000,
  ) {
    this.cache = new ExpiringCache(ttlMs);
  }

  get(projectId: string, slug: string, now = Date.now()): Promise<EndpointRecord | undefined> {
    return this.cache.get(`${projectId}/${slug}`, () => findEndpoint(this.db, projectId, slug), now);
  }
}
