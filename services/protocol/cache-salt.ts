import { createHmac } from 'node:crypto';

/**
 * A project's prefix-cache salt: HMAC(secret, project id). XIM agents send it to vLLM as
 * `cache_salt`, and the router seeds its prefix hashes with it, so two tenants never share
 * cached blocks nor affinity keys.
 */
export function tenantSalt(secret: string, projectId: string): string {
  return createHmac('sha256', secret).update(projectId).digest('base64url');
}
