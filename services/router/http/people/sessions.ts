import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { createFailureThrottle, type FailureThrottle } from '../../enrollment/failure-throttle.js';
import { changeOwnPassword } from '../../people/own-password.js';
import { MAX_PASSWORD_LENGTH } from '../../people/passwords.js';
import { refreshSession, sessionView } from '../../people/sessions.js';
import type { IdentitySettings } from '../../people/settings.js';
import { signInWithCode, signInWithPassword } from '../../people/sign-in.js';
import { findApiKey, listApiKeys, revokeApiKey } from '../../store/api-keys.js';
import { actorOf, appendAudit } from '../../store/audit-log.js';
import type { Pool } from '../../store/pool.js';
import { findPrincipal } from '../../store/principals.js';
import { assertPermission, authenticateApiKey, projectOf, requireProjectAccess } from '../auth.js';
import { ApiError } from '../errors.js';
import { idParams, PageQuery, pagedList, strict } from '../schemas.js';

const Client = Type.Union([Type.Literal('ui'), Type.Literal('cli'), Type.Literal('api')]);
const PasswordSignInBody = Type.Object(
  {
    method: Type.Literal('password'),
    email: Type.String({ minLength: 3, maxLength: 320 }),
    password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
    project: Type.String({ minLength: 1, maxLength: 64 }),
    client: Type.Optional(Client),
  },
  strict,
);
const CodeSignInBody = Type.Object(
  { method: Type.Literal('code'), code: Type.String({ pattern: '^xsc_[A-Za-z0-9_-]{43}$' }) },
  strict,
);
const SignInBody = Type.Union([PasswordSignInBody, CodeSignInBody]);
type SignInBody = Static<typeof SignInBody>;
const SessionParams = idParams('key');
const SessionsQuery = Type.Object(
  { ...PageQuery.properties, principal: Type.Optional(Type.String({ pattern: '^(usr|sa)_[0-9a-f]{12,48}$' })) },
  strict,
);
const PasswordBody = Type.Object(
  {
    current_password: Type.Optional(Type.String({ maxLength: MAX_PASSWORD_LENGTH })),
    new_password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
  },
  strict,
);

export interface SignInDependencies {
  readonly pool: Pool;
  readonly identity: IdentitySettings;
  /** Failed sign-ins per source address; one per router process. */
  readonly addressThrottle?: FailureThrottle;
  readonly now?: () => Date;
}

/** `POST /v1/auth/sessions`: sign in (no key yet), answered with a session key shown once. */
export function signInRoutes(deps: SignInDependencies) {
  const now = deps.now ?? (() => new Date());
  const throttle =
    deps.addressThrottle ?? createFailureThrottle({ limit: deps.identity.signInPerMinute, windowMs: 60_000 });
  return async function register(app: FastifyInstance): Promise<void> {
    app.post<{ Body: SignInBody }>('/sessions', { schema: { body: SignInBody } }, async (request, reply) => {
      const wait = throttle.retryAfter(request.ip, now().getTime());
      if (wait > 0) throw ApiError.rateLimited(wait, 'Too many failed sign-ins from this address; retry later');
      try {
        const body = request.body;
        const opened =
          body.method === 'code'
            ? await signInWithCode(deps.pool, deps.identity, body.code, now())
            : await signInWithPassword(
                deps.pool,
                deps.identity,
                { email: body.email, password: body.password, project: body.project, client: body.client ?? 'api' },
                now(),
              );
        const principal = (await findPrincipal(deps.pool, opened.session.principal_id))!;
        return reply.status(201).send({
          ...sessionView(opened.session),
          key: opened.token,
          project: opened.project,
          principal: {
            id: principal.id,
            kind: principal.kind,
            display_name: principal.display_name,
            email: principal.email,
          },
        });
      } catch (error) {
        if (error instanceof ApiError && COUNTED.has(error.code)) throttle.recordFailure(request.ip, now().getTime());
        throw error;
      }
    });
  };
}

// Failures that count against the address: guesses at passwords and at codes.
const COUNTED = new Set(['invalid_credentials', 'sign_in_locked', 'sign_in_code_invalid']);

/** `/:project_id/v1/auth`: who am I, my sessions, my password. Any key or session of the project. */
export function accountRoutes(deps: SignInDependencies) {
  const now = deps.now ?? (() => new Date());
  return async function register(app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticateApiKey({ db: deps.pool }));
    app.addHook('preHandler', requireProjectAccess({ db: deps.pool }));

    app.get('/whoami', async (request) => {
      const caller = request.principal!;
      const principal = await findPrincipal(deps.pool, caller.principalId);
      const key = await findApiKey(deps.pool, caller.projectId, caller.keyId);
      return {
        object: 'whoami' as const,
        principal: {
          id: principal!.id,
          kind: principal!.kind,
          display_name: principal!.display_name,
          email: principal!.email,
        },
        project: { id: caller.projectId, slug: caller.projectSlug },
        roles: caller.roles,
        permissions: [...caller.permissions].sort(),
        key: {
          id: caller.keyId,
          kind: caller.keyKind,
          scopes: caller.scopes,
          expires_at: key?.expires_at?.toISOString() ?? null,
        },
        channel: caller.channel,
      };
    });

    app.get<{ Querystring: Static<typeof SessionsQuery> }>(
      '/sessions',
      { schema: { querystring: SessionsQuery } },
      async (request) => {
        const caller = request.principal!;
        const principalId = request.query.principal ?? caller.principalId;
        if (principalId !== caller.principalId) assertPermission(request, 'manage.read');
        return pagedList(
          request.query,
          (page) => listApiKeys(deps.pool, caller.projectId, { ...page, kind: 'session', principalId, liveOnly: true }),
          (session) => ({ ...sessionView(session, now()), current: session.id === caller.keyId }),
        );
      },
    );

    app.post('/sessions/current/refresh', async (request) => {
      const caller = request.principal!;
      if (caller.keyKind !== 'session')
        throw new ApiError('session_not_refreshable', 'This is an API key, not a session');
      return sessionView(await refreshSession(deps.pool, deps.identity, caller.keyId, now()), now());
    });

    app.delete('/sessions/current', async (request, reply) => {
      await endSession(deps.pool, request, request.principal!.keyId);
      return reply.status(204).send();
    });

    app.delete<{ Params: Static<typeof SessionParams> }>(
      '/sessions/:id',
      { schema: { params: SessionParams } },
      async (request, reply) => {
        await endSession(deps.pool, request, request.params.id);
        return reply.status(204).send();
      },
    );

    app.put<{ Body: Static<typeof PasswordBody> }>(
      '/password',
      { schema: { body: PasswordBody } },
      async (request, reply) => {
        const caller = request.principal!;
        const { current_password, new_password } = request.body;
        await changeOwnPassword(
          deps.pool,
          {
            principalId: caller.principalId,
            projectId: projectOf(request).id,
            keyId: caller.keyId,
            next: new_password,
            ...(current_password === undefined ? {} : { current: current_password }),
          },
          actorOf(caller),
        );
        return reply.status(204).send();
      },
    );
  };
}

/** Ends one session: one's own, or anyone's in the project for an admin. */
async function endSession(pool: Pool, request: FastifyRequest, sessionId: string): Promise<void> {
  const caller = request.principal!;
  const session = await findApiKey(pool, caller.projectId, sessionId);
  if (!session || session.kind !== 'session') throw new ApiError('session_not_found', undefined, 'id');
  if (session.principal_id !== caller.principalId) assertPermission(request, 'manage.write');
  await revokeApiKey(pool, caller.projectId, sessionId);
  await appendAudit(pool, {
    projectId: caller.projectId,
    ...actorOf(caller),
    event: 'session.revoked',
    subject: sessionId,
  });
}
