import type { FastifyRequest, onRequestAsyncHookHandler, preHandlerAsyncHookHandler } from 'fastify';
import { apiKeyState } from '../auth/api-key-state.js';
import { parseApiKey } from '../auth/secrets.js';
import { effectivePermissions, missingBecause, scopeFor, type Permission, type Role } from '../people/roles.js';
import { findApiKeyBySecretHash, touchApiKey, type ApiKeyWithProject, type Scope } from '../store/api-keys.js';
import type { Queryable } from '../store/db.js';
import type { PrincipalKind } from '../store/principals.js';
import { findProject, type Project } from '../store/projects.js';
import { ApiError } from './errors.js';

export type Channel = 'api' | 'ui' | 'cli' | 'chat';

/** Who is calling: the person or service account, through which key, able to do what. */
export interface Principal {
  readonly keyId: string;
  readonly keyKind: 'key' | 'session';
  readonly principalId: string;
  readonly principalKind: PrincipalKind;
  readonly displayName: string;
  readonly projectId: string;
  readonly projectSlug: string;
  readonly scopes: readonly Scope[];
  /** The owner's roles in the key's project, read with the key: a role lost bites at once. */
  readonly roles: readonly Role[];
  readonly permissions: ReadonlySet<Permission>;
  /** How the request came: a session opened by the web UI or the CLI, or a plain key (api). */
  readonly channel: Channel;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a route needs, when not what its surface gives by method (GET reads, the rest writes). */
    permission?: Permission;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** The project named in the path, once access to it is checked. */
    project?: Project;
    /** The authenticating key's project, read with the key. */
    keyProject?: Project;
  }
}

export interface AuthDependencies {
  readonly db: Queryable;
  readonly now?: () => Date;
}

const TOUCH_EVERY_MS = 60_000;

/** Authenticates `Authorization: Bearer xero_…`; 401 invalid_api_key for anything else. */
export function authenticateApiKey(deps: AuthDependencies): onRequestAsyncHookHandler {
  const lastTouched = new Map<string, number>();
  return async (request) => {
    const parsed = parseApiKey(bearerToken(request) ?? '');
    if (!parsed) throw new ApiError('invalid_api_key');
    const key = await findApiKeyBySecretHash(deps.db, parsed.hash);
    const now = deps.now?.() ?? new Date();
    if (!key || key.project_slug !== parsed.slug || apiKeyState(key, now) !== 'valid')
      throw new ApiError('invalid_api_key');
    if (key.principal_status !== 'active') throw new ApiError('principal_disabled');
    request.principal = principalOf(key);
    request.keyProject = {
      id: key.project_id,
      slug: key.project_slug,
      name: key.project_name,
      created_at: key.project_created_at,
    };
    // last_used_at is for humans: one write a minute per key is plenty.
    if ((lastTouched.get(key.id) ?? 0) + TOUCH_EVERY_MS < now.getTime()) {
      lastTouched.set(key.id, now.getTime());
      await touchApiKey(deps.db, key.id);
    }
  };
}

/** The `:project_id` of the path (external id or slug) must exist and be the key's project. */
export function requireProjectAccess(deps: AuthDependencies): preHandlerAsyncHookHandler {
  return async (request) => {
    const wanted = (request.params as { project_id?: string }).project_id ?? '';
    // The usual case, a key used on its own project, needs no second lookup.
    const own = request.keyProject;
    const project = own && (wanted === own.id || wanted === own.slug) ? own : await findProject(deps.db, wanted);
    if (!project) throw new ApiError('project_not_found', `No project "${wanted.slice(0, 64)}"`, 'project_id');
    if (project.id !== request.principal?.projectId) throw new ApiError('cross_project_access');
    request.project = project;
  };
}

function principalOf(key: ApiKeyWithProject): Principal {
  return {
    keyId: key.id,
    keyKind: key.kind,
    principalId: key.principal_id,
    principalKind: key.principal_kind,
    displayName: key.principal_name,
    projectId: key.project_id,
    projectSlug: key.project_slug,
    scopes: key.scopes,
    roles: key.roles,
    permissions: effectivePermissions(key.scopes, key.roles),
    channel: key.session?.client ?? 'api',
  };
}

/**
 * The route's permission (its `config.permission`, else `reads` for GET and HEAD and `writes`
 * for the rest): 403 `scope_insufficient` when the key's scopes lack it, `role_insufficient`
 * when the owner's roles do.
 */
export function requirePermission(reads: Permission, writes: Permission): preHandlerAsyncHookHandler {
  return async (request) => {
    const needed =
      request.routeOptions.config.permission ?? (['GET', 'HEAD'].includes(request.method) ? reads : writes);
    assertPermission(request, needed);
  };
}

export function assertPermission(request: FastifyRequest, needed: Permission): void {
  const principal = request.principal;
  if (principal?.permissions.has(needed)) return;
  if (principal && missingBecause(needed, principal.scopes, principal.roles) === 'role') {
    throw new ApiError(
      'role_insufficient',
      `This needs ${needed}, which none of your roles in this project (${principal.roles.join(', ') || 'none'}) gives`,
    );
  }
  throw new ApiError('scope_insufficient', `This endpoint needs an API key with the ${scopeFor(needed)} scope`);
}

export function hasPermission(request: FastifyRequest, needed: Permission): boolean {
  return request.principal?.permissions.has(needed) ?? false;
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  return match?.[1];
}

/** The project checked by requireProjectAccess (routes run after it). */
export function projectOf(request: FastifyRequest): Project {
  if (!request.project) throw new Error('route registered without requireProjectAccess: this is a bug');
  return request.project;
}
