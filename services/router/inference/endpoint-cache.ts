import type { Queryable } from '../store/db.js';
import { findEndpoint, type EndpointRecord } from '../store/endpoints.js';

/**
 * Endpoints as inference requests read them: one query per endpoint per second instead of one
 * per request (they change by hand, rarely; a change shows within `ttlMs` on every router).
 */
export class EndpointCache {
  private readonly entries = new Map<string, { at: number; endpoint: Promise<EndpointRecord | undefined> }>();

  constructor(private readonly db: Queryable, private readonly ttlMs = 1_000, private readonly maxEntries = 10_000) {}

  get(projectId: string, slug: string, now = Date.now()): Promise<EndpointRecord | undefined> {
    const key = `${projectId}/${slug}`;
    const cached = this.entries.get(key);
    if (cached && now - cached.at < this.ttlMs) return cached.endpoint;
    const endpoint = findEndpoint(this.db, projectId, slug);
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(key, { at: now, endpoint });
    endpoint.catch(() => this.entries.delete(key));
    return endpoint;
  }
}
