import type { FastifyRequest, onRequestAsyncHookHandler, preHandlerAsyncHookHandler } from 'fastify';
import { apiKeyState } from '../auth/api-key-state.js';
import { parseApiKey } from '../auth/secrets.js';
import { findApiKeyBySecretHash, touchApiKey, type Scope } from '../store/api-keys.js';
import type { Queryable } from '../store/db.js';
import { findProject, type Project } from '../store/projects.js';
import { ApiError } from './errors.js';

/** Who is calling: the API key that authenticated the request. */
export interface Principal {
  readonly keyId: string;
  readonly projectId: string;
  readonly projectSlug: string;
  readonly scopes: readonly Scope[];
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
    request.principal = { keyId: key.id, projectId: key.project_id, projectSlug: key.project_slug, scopes: key.scopes };
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

export function requireScope(scope: Scope): preHandlerAsyncHookHandler {
  return async (request) => {
    if (!request.principal?.scopes.includes(scope)) {
      throw new ApiError('scope_insufficient', `This endpoint needs an API key with the ${scope} scope`);
    }
  };
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
