import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { apiKeyState } from '../auth/api-key-state.js';
import { mintApiKey } from '../auth/secrets.js';
import {
  findApiKey,
  insertApiKey,
  listApiKeys,
  markRotated,
  revokeApiKey,
  SCOPES,
  type ApiKeyRecord,
  type ApiKeyWithOwner,
  type Scope,
} from '../store/api-keys.js';
import { scopesAllowed } from '../people/roles.js';
import { findMember } from '../store/principals.js';
import type { Queryable } from '../store/db.js';
import { withTransaction } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import { assertPermission, projectOf, type Principal } from './auth.js';
import type { FastifyRequest } from 'fastify';
import { actorOf, appendAudit } from '../store/audit-log.js';
import { ApiError } from './errors.js';
import { idParams, PageQuery, pagedList, strict, type Page } from './schemas.js';

const MAX_LIFETIME_S = 5 * 365 * 24 * 3600;
const DEFAULT_GRACE_S = 24 * 3600;

const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    scopes: Type.Array(Type.Union(SCOPES.map((scope) => Type.Literal(scope))), {
      minItems: 1,
      maxItems: 3,
      uniqueItems: true,
    }),
    expires_in_seconds: Type.Optional(Type.Integer({ minimum: 60, maximum: MAX_LIFETIME_S })),
    /** Whose key it is: the caller when unset; another member (a service account, say) needs manage.write. */
    owner: Type.Optional(Type.String({ pattern: '^(usr|sa)_[0-9a-f]{12,48}$' })),
  },
  strict,
);
const ListQuery = Type.Object(
  { ...PageQuery.properties, owner: Type.Optional(Type.String({ pattern: '^(usr|sa)_[0-9a-f]{12,48}$' })) },
  strict,
);
const RotateBody = Type.Object(
  { grace_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 24 * 3600 })) },
  strict,
);
const KeyParams = idParams('key');
type KeyParams = Static<typeof KeyParams>;

/** What a key looks like on the wire: never its hash. */
export function apiKeyView(
  key: ApiKeyRecord & Partial<Pick<ApiKeyWithOwner, 'principal_kind' | 'principal_name'>>,
  now = new Date(),
) {
  return {
    object: 'api_key' as const,
    id: key.id,
    name: key.name,
    owner: {
      id: key.principal_id,
      ...(key.principal_kind ? { kind: key.principal_kind, display_name: key.principal_name } : {}),
    },
    prefix: key.prefix,
    scopes: key.scopes,
    active: apiKeyState(key, now) === 'valid',
    created_at: key.created_at.toISOString(),
    expires_at: key.expires_at?.toISOString() ?? null,
    revoked_at: key.revoked_at?.toISOString() ?? null,
    last_used_at: key.last_used_at?.toISOString() ?? null,
    rotated_to: key.rotated_to,
    grace_until: key.grace_until?.toISOString() ?? null,
  };
}

/** `/:project_id/v1/management/api-keys`: create (shown once), list, show, revoke, rotate. */
export function apiKeyRoutes(deps: { pool: Pool }) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.post<{ Body: Static<typeof CreateBody> }>(
      '/api-keys',
      { schema: { body: CreateBody }, config: { permission: 'keys.own' } },
      async (request, reply) => {
        const project = projectOf(request);
        const owner = await keyOwner(deps.pool, request, request.body.owner, request.body.scopes);
        const minted = mintApiKey(project.slug);
        const lifetime = request.body.expires_in_seconds;
        const key = await insertApiKey(deps.pool, {
          principalId: owner,
          projectId: project.id,
          name: request.body.name,
          scopes: request.body.scopes,
          secretHash: minted.hash,
          prefix: minted.prefix,
          expiresAt: lifetime === undefined ? null : new Date(Date.now() + lifetime * 1_000),
        });
        await appendAudit(deps.pool, {
          projectId: project.id,
          ...actorOf(request.principal),
          event: 'api_key.minted',
          subject: key.id,
          detail: { name: key.name, scopes: key.scopes, owner: key.principal_id },
        });
        return reply.status(201).send({ ...apiKeyView(key), key: minted.token });
      },
    );

    app.get<{ Querystring: Page & { owner?: string } }>(
      '/api-keys',
      { schema: { querystring: ListQuery } },
      async (request) =>
        pagedList(
          request.query,
          (page) =>
            listApiKeys(deps.pool, projectOf(request).id, {
              ...page,
              ...(request.query.owner ? { principalId: request.query.owner } : {}),
            }),
          (row) => apiKeyView(row),
        ),
    );

    app.get<{ Params: KeyParams }>('/api-keys/:id', { schema: { params: KeyParams } }, async (request) => {
      const key = await findApiKey(deps.pool, projectOf(request).id, request.params.id);
      if (!key) throw new ApiError('api_key_not_found', undefined, 'id');
      return apiKeyView(key);
    });

    app.delete<{ Params: KeyParams }>(
      '/api-keys/:id',
      { schema: { params: KeyParams }, config: { permission: 'keys.own' } },
      async (request) => {
        await ownKeyOrAdmin(deps.pool, request, request.params.id);
        const key = await revokeApiKey(deps.pool, projectOf(request).id, request.params.id);
        if (!key) throw new ApiError('api_key_not_found', undefined, 'id');
        await appendAudit(deps.pool, {
          projectId: key.project_id,
          ...actorOf(request.principal),
          event: 'api_key.revoked',
          subject: key.id,
        });
        return apiKeyView(key);
      },
    );

    app.post<{ Params: KeyParams; Body: Static<typeof RotateBody> }>(
      '/api-keys/:id/rotate',
      {
        schema: { params: KeyParams, body: RotateBody },
        config: { permission: 'keys.own' },
        preValidation: async (request) => void (request.body ??= {}),
      },
      async (request, reply) => {
        const project = projectOf(request);
        await ownKeyOrAdmin(deps.pool, request, request.params.id);
        const graceUntil = new Date(Date.now() + (request.body.grace_seconds ?? DEFAULT_GRACE_S) * 1_000);
        const rotated = await withTransaction(deps.pool, async (client) => {
          const old = await findApiKey(client, project.id, request.params.id);
          if (!old) throw new ApiError('api_key_not_found', undefined, 'id');
          const minted = mintApiKey(project.slug);
          const successor = await insertApiKey(client, {
            principalId: old.principal_id,
            projectId: project.id,
            name: old.name,
            scopes: old.scopes,
            secretHash: minted.hash,
            prefix: minted.prefix,
            expiresAt: old.expires_at,
          });
          if (
            apiKeyState(old, new Date()) !== 'valid' ||
            !(await markRotated(client, project.id, old.id, successor.id, graceUntil))
          ) {
            throw new ApiError('api_key_not_rotatable');
          }
          await appendAudit(client, {
            projectId: project.id,
            ...actorOf(request.principal),
            event: 'api_key.rotated',
            subject: old.id,
            detail: { successor: successor.id, grace_until: graceUntil.toISOString() },
          });
          return { successor, token: minted.token };
        });
        return reply.status(201).send({
          ...apiKeyView(rotated.successor),
          key: rotated.token,
          replaces: request.params.id,
          old_key_valid_until: graceUntil.toISOString(),
        });
      },
    );
  };
}

/**
 * Whose key a request may mint: its own by default; another member's only with manage.write. The
 * scopes must fit the owner's roles (a key never carries more than its owner may do) and, when a
 * plain key mints, the minting key's own scopes (a key cannot mint a wider one; a session may
 * mint any scope its owner's roles allow).
 */
async function keyOwner(
  db: Queryable,
  request: FastifyRequest,
  requested: string | undefined,
  scopes: readonly Scope[],
) {
  const caller = request.principal!;
  const ownerId = requested ?? caller.principalId;
  if (ownerId !== caller.principalId) assertPermission(request, 'manage.write');
  const member = await findMember(db, caller.projectId, ownerId);
  if (!member) throw new ApiError('member_not_found', `${ownerId} is not a member of this project`, 'owner');
  if (member.status !== 'active') throw new ApiError('principal_disabled', `${ownerId} is disabled`);
  const allowed = scopesAllowed(member.roles);
  const beyondRoles = scopes.filter((scope) => !allowed.includes(scope));
  if (beyondRoles.length > 0)
    throw new ApiError(
      'scope_exceeds_roles',
      `The owner's roles (${member.roles.join(', ')}) do not allow the scopes ${beyondRoles.join(', ')}`,
      'scopes',
    );
  const beyondKey = caller.keyKind === 'key' ? scopes.filter((scope) => !caller.scopes.includes(scope)) : [];
  if (beyondKey.length > 0)
    throw new ApiError(
      'scope_exceeds_roles',
      `A key cannot mint a key wider than itself: this one lacks ${beyondKey.join(', ')}`,
      'scopes',
    );
  return ownerId;
}

/** Revoking or rotating another principal's key is an admin's job; one's own is everyone's. */
async function ownKeyOrAdmin(db: Queryable, request: FastifyRequest, keyId: string): Promise<void> {
  const caller: Principal = request.principal!;
  const key = await findApiKey(db, caller.projectId, keyId);
  if (key && key.principal_id !== caller.principalId) assertPermission(request, 'manage.write');
}
