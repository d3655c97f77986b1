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
} from '../store/api-keys.js';
import { withTransaction } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import { projectOf } from './auth.js';
import { appendAudit, keyActor } from '../store/audit-log.js';
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
  },
  strict,
);
const RotateBody = Type.Object(
  { grace_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 24 * 3600 })) },
  strict,
);
const KeyParams = idParams('key');
type KeyParams = Static<typeof KeyParams>;

/** What a key looks like on the wire: never its hash. */
export function apiKeyView(key: ApiKeyRecord, now = new Date()) {
  return {
    object: 'api_key' as const,
    id: key.id,
    name: key.name,
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
      { schema: { body: CreateBody } },
      async (request, reply) => {
        const project = projectOf(request);
        const minted = mintApiKey(project.slug);
        const lifetime = request.body.expires_in_seconds;
        const key = await insertApiKey(deps.pool, {
          projectId: project.id,
          name: request.body.name,
          scopes: request.body.scopes,
          secretHash: minted.hash,
          prefix: minted.prefix,
          expiresAt: lifetime === undefined ? null : new Date(Date.now() + lifetime * 1_000),
        });
        await appendAudit(deps.pool, {
          projectId: project.id,
          actor: keyActor(request.principal?.keyId),
          event: 'api_key.minted',
          subject: key.id,
          detail: { name: key.name, scopes: key.scopes },
        });
        return reply.status(201).send({ ...apiKeyView(key), key: minted.token });
      },
    );

    app.get<{ Querystring: Page }>('/api-keys', { schema: { querystring: PageQuery } }, async (request) =>
      pagedList(
        request.query,
        (page) => listApiKeys(deps.pool, projectOf(request).id, page),
        (row) => apiKeyView(row),
      ),
    );

    app.get<{ Params: KeyParams }>('/api-keys/:id', { schema: { params: KeyParams } }, async (request) => {
      const key = await findApiKey(deps.pool, projectOf(request).id, request.params.id);
      if (!key) throw new ApiError('api_key_not_found', undefined, 'id');
      return apiKeyView(key);
    });

    app.delete<{ Params: KeyParams }>('/api-keys/:id', { schema: { params: KeyParams } }, async (request) => {
      const key = await revokeApiKey(deps.pool, projectOf(request).id, request.params.id);
      if (!key) throw new ApiError('api_key_not_found', undefined, 'id');
      await appendAudit(deps.pool, {
        projectId: key.project_id,
        actor: keyActor(request.principal?.keyId),
        event: 'api_key.revoked',
        subject: key.id,
      });
      return apiKeyView(key);
    });

    app.post<{ Params: KeyParams; Body: Static<typeof RotateBody> }>(
      '/api-keys/:id/rotate',
      { schema: { params: KeyParams, body: RotateBody }, preValidation: async (request) => void (request.body ??= {}) },
      async (request, reply) => {
        const project = projectOf(request);
        const graceUntil = new Date(Date.now() + (request.body.grace_seconds ?? DEFAULT_GRACE_S) * 1_000);
        const rotated = await withTransaction(deps.pool, async (client) => {
          const old = await findApiKey(client, project.id, request.params.id);
          if (!old) throw new ApiError('api_key_not_found', undefined, 'id');
          const minted = mintApiKey(project.slug);
          const successor = await insertApiKey(client, {
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
            actor: keyActor(request.principal?.keyId),
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
