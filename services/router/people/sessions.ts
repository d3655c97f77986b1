import { mintApiKey } from '../auth/secrets.js';
import {
  extendSession,
  insertApiKey,
  type ApiKeyRecord,
  type SessionClient,
  type SessionInfo,
} from '../store/api-keys.js';
import { appendAudit } from '../store/audit-log.js';
import type { Queryable } from '../store/db.js';
import { ApiError } from '../http/errors.js';
import { scopesAllowed, type Role } from './roles.js';
import type { IdentitySettings } from './settings.js';

export interface SessionRequest {
  readonly principalId: string;
  readonly project: { readonly id: string; readonly slug: string };
  readonly roles: readonly Role[];
  readonly method: SessionInfo['method'];
  readonly client: SessionClient;
}

export interface OpenedSession {
  readonly session: ApiKeyRecord;
  /** The session key: shown once, to the one who signed in. */
  readonly token: string;
}

/**
 * A session is an API key of kind `session`: the same check on every request (owner active,
 * roles read with the key), scopes as wide as the owner's roles allow, a short expiry that
 * refreshes up to a hard limit, revocable like any key.
 */
export async function openSession(
  db: Queryable,
  settings: Pick<IdentitySettings, 'sessionTtlSeconds' | 'sessionMaxSeconds'>,
  request: SessionRequest,
  now: Date,
): Promise<OpenedSession> {
  const minted = mintApiKey(request.project.slug);
  const maxUntil = new Date(now.getTime() + settings.sessionMaxSeconds * 1_000);
  const session = await insertApiKey(db, {
    projectId: request.project.id,
    principalId: request.principalId,
    name: `session (${request.client}, ${request.method})`,
    scopes: scopesAllowed(request.roles),
    secretHash: minted.hash,
    prefix: minted.prefix,
    expiresAt: new Date(Math.min(now.getTime() + settings.sessionTtlSeconds * 1_000, maxUntil.getTime())),
    session: { method: request.method, client: request.client, max_until: maxUntil.toISOString() },
  });
  await appendAudit(db, {
    projectId: request.project.id,
    actor: request.principalId,
    via: { key_id: session.id, channel: request.client },
    event: 'session.opened',
    subject: session.id,
    detail: { method: request.method, client: request.client, expires_at: session.expires_at!.toISOString() },
  });
  return { session, token: minted.token };
}

/** A later expiry for a live session, never past its limit. */
export async function refreshSession(
  db: Queryable,
  settings: Pick<IdentitySettings, 'sessionTtlSeconds'>,
  sessionId: string,
  now: Date,
): Promise<ApiKeyRecord> {
  const refreshed = await extendSession(db, sessionId, new Date(now.getTime() + settings.sessionTtlSeconds * 1_000));
  if (!refreshed) throw new ApiError('session_not_refreshable');
  return refreshed;
}

/** What a session looks like on the wire: never its hash or its key (except once, at sign-in). */
export function sessionView(session: ApiKeyRecord, now = new Date()) {
  return {
    object: 'session' as const,
    id: session.id,
    principal_id: session.principal_id,
    method: session.session?.method ?? null,
    client: session.session?.client ?? null,
    scopes: session.scopes,
    created_at: session.created_at.toISOString(),
    expires_at: session.expires_at?.toISOString() ?? null,
    refresh_until: session.session?.max_until ?? null,
    last_used_at: session.last_used_at?.toISOString() ?? null,
    revoked_at: session.revoked_at?.toISOString() ?? null,
    active: session.revoked_at === null && (session.expires_at?.getTime() ?? Infinity) > now.getTime(),
  };
}
