import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { mintJoinKey } from '../auth/secrets.js';
import { actorOf, appendAudit } from '../store/audit-log.js';
import { findJoinKey, insertJoinKey, listJoinKeys, revokeJoinKey, type JoinKeyRecord } from '../store/join-keys.js';
import type { Pool } from '../store/pool.js';
import { projectOf } from './auth.js';
import { ApiError } from './errors.js';
import { idParams, PageQuery, pagedList, strict, type Page } from './schemas.js';

const DEFAULT_TTL_S = 30 * 60;

const MintBody = Type.Object(
  {
    role: Type.Union([Type.Literal('xem'), Type.Literal('xim')]),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    region: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9-]{1,24}$' })),
    ttl_seconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 7 * 24 * 3600 })),
    /** The agent enrolling with this key may replace a live agent of the same name or key (re-imaged host). */
    allow_replace: Type.Optional(Type.Boolean()),
    /** The only registration name this key may enroll. */
    registration_name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 48, pattern: '^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$' }),
    ),
    /** `platform`: the XIM agent it enrolls serves every project (the platform project's admins only). */
    scope: Type.Optional(Type.Union([Type.Literal('project'), Type.Literal('platform')])),
  },
  strict,
);
const JoinKeyParams = idParams('jk');
type JoinKeyParams = Static<typeof JoinKeyParams>;

function status(key: JoinKeyRecord, now: Date): 'active' | 'used' | 'revoked' | 'expired' {
  if (key.used_at) return 'used';
  if (key.revoked_at) return 'revoked';
  if (key.expires_at && key.expires_at <= now) return 'expired';
  return 'active';
}

export function joinKeyView(key: JoinKeyRecord, now = new Date()) {
  return {
    object: 'join_key' as const,
    id: key.id,
    role: key.role,
    name: key.name,
    region: key.region,
    status: status(key, now),
    provisioned: key.provisioned,
    created_at: key.created_at.toISOString(),
    expires_at: key.expires_at?.toISOString() ?? null,
    revoked_at: key.revoked_at?.toISOString() ?? null,
    used_at: key.used_at?.toISOString() ?? null,
    used_by_agent: key.used_by_agent,
    allow_replace: key.allow_replace,
    registration_name: key.registration_name,
    scope: key.scope,
  };
}

/** `/:project_id/v1/management/join-keys`: mint (shown once), list, show, revoke. */
/**
 * A platform-scope key enrolls a shared XIM agent: only in the platform's project (so only its
 * admins), and never for an execution agent, which runs tools with one project's credentials.
 */
export function platformScopeAllowed(
  request: { role: 'xem' | 'xim'; scope?: 'project' | 'platform' },
  project: { id: string; slug: string },
  platformProject: string | undefined,
): boolean {
  if (request.scope !== 'platform') return true;
  return (
    request.role === 'xim' && platformProject !== undefined && [project.id, project.slug].includes(platformProject)
  );
}

export function joinKeyRoutes(deps: { pool: Pool; platformProject?: string }) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.post<{ Body: Static<typeof MintBody> }>(
      '/join-keys',
      { schema: { body: MintBody } },
      async (request, reply) => {
        const project = projectOf(request);
        if (!platformScopeAllowed(request.body, project, deps.platformProject))
          throw new ApiError('platform_scope_not_allowed', undefined, 'scope');
        const minted = mintJoinKey();
        const key = await insertJoinKey(deps.pool, {
          projectId: project.id,
          role: request.body.role,
          name: request.body.name,
          region: request.body.region ?? null,
          hash: minted.hash,
          expiresAt: new Date(Date.now() + (request.body.ttl_seconds ?? DEFAULT_TTL_S) * 1_000),
          allowReplace: request.body.allow_replace ?? false,
          registrationName: request.body.registration_name ?? null,
          scope: request.body.scope ?? 'project',
        });
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'join_key.minted',
          subject: key.id,
          detail: {
            role: key.role,
            name: key.name,
            allow_replace: key.allow_replace,
            registration_name: key.registration_name,
            scope: key.scope,
          },
        });
        return reply.status(201).send({ ...joinKeyView(key), key: minted.token });
      },
    );

    app.get<{ Querystring: Page }>('/join-keys', { schema: { querystring: PageQuery } }, async (request) =>
      pagedList(
        request.query,
        (page) => listJoinKeys(deps.pool, projectOf(request).id, page),
        (row) => joinKeyView(row),
      ),
    );

    app.get<{ Params: JoinKeyParams }>('/join-keys/:id', { schema: { params: JoinKeyParams } }, async (request) => {
      const key = await findJoinKey(deps.pool, projectOf(request).id, request.params.id);
      if (!key) throw new ApiError('join_key_not_found', undefined, 'id');
      return joinKeyView(key);
    });

    app.delete<{ Params: JoinKeyParams }>('/join-keys/:id', { schema: { params: JoinKeyParams } }, async (request) => {
      const project = projectOf(request);
      const key = await revokeJoinKey(deps.pool, project.id, request.params.id);
      if (!key) throw new ApiError('join_key_not_found', undefined, 'id');
      await appendAudit(deps.pool, {
        projectId: project.id,
        ...actorOf(request.principal),
        event: 'join_key.revoked',
        subject: key.id,
      });
      return joinKeyView(key);
    });
  };
}
