import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import {
  addServiceAccount,
  addUser,
  removeMember,
  resetPassword,
  setRoles,
  setStatus,
  type Actor,
} from '../../people/membership.js';
import { MAX_PASSWORD_LENGTH } from '../../people/passwords.js';
import { ROLES, rolePermissions } from '../../people/roles.js';
import { actorOf } from '../../store/audit-log.js';
import type { Pool } from '../../store/pool.js';
import { findMember, listMembers, type MemberRecord, type PrincipalKind } from '../../store/principals.js';
import { projectOf } from '../auth.js';
import { ApiError } from '../errors.js';
import { PageQuery, pagedList, ProjectParams, strict, type Page } from '../schemas.js';

const Roles = Type.Array(Type.Union(ROLES.map((role) => Type.Literal(role))), {
  minItems: 1,
  maxItems: 4,
  uniqueItems: true,
});
const MemberParams = Type.Object(
  { project_id: ProjectParams.properties.project_id, id: Type.String({ pattern: '^(usr|sa)_[0-9a-f]{12,48}$' }) },
  strict,
);
type MemberParams = Static<typeof MemberParams>;
const DisplayName = Type.String({ minLength: 1, maxLength: 200 });
const Password = Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH });
const UserBody = Type.Object(
  {
    email: Type.String({ minLength: 3, maxLength: 320, pattern: '^[^@\\s]+@[^@\\s]+$' }),
    display_name: DisplayName,
    roles: Roles,
    password: Type.Optional(Password),
  },
  strict,
);
const ServiceAccountBody = Type.Object({ name: DisplayName, roles: Roles }, strict);
const RolesBody = Type.Object({ roles: Roles }, strict);
const PatchBody = Type.Object(
  {
    display_name: Type.Optional(DisplayName),
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
  },
  { ...strict, minProperties: 1 },
);
const PasswordBody = Type.Object({ password: Password }, strict);

/** A member on the wire: never a password hash. */
export function memberView(member: MemberRecord) {
  return {
    object: 'member' as const,
    id: member.id,
    kind: member.kind,
    display_name: member.display_name,
    email: member.email,
    status: member.status,
    roles: member.roles,
    permissions: [...rolePermissions(member.roles)].sort(),
    has_password: member.has_password,
    oidc_linked: member.oidc_linked,
    member_since: member.member_since.toISOString(),
    created_at: member.created_at.toISOString(),
    disabled_at: member.disabled_at?.toISOString() ?? null,
  };
}

const actorFor = (request: FastifyRequest): Actor => ({
  ...actorOf(request.principal),
  principalId: request.principal!.principalId,
});

/**
 * `/:project_id/v1/management/{members,users,service-accounts}`: who belongs to the project and
 * with which roles. Reading needs manage.read; every change manage.write (the admin role).
 */
export function memberRoutes(deps: { readonly pool: Pool }) {
  const list = (kind?: PrincipalKind) => async (request: FastifyRequest<{ Querystring: Page }>) =>
    pagedList(
      request.query,
      (page) => listMembers(deps.pool, projectOf(request).id, { ...page, ...(kind ? { kind } : {}) }),
      memberView,
    );
  return async function register(app: FastifyInstance): Promise<void> {
    app.get('/members', { schema: { querystring: PageQuery } }, list());
    app.get('/users', { schema: { querystring: PageQuery } }, list('user'));
    app.get('/service-accounts', { schema: { querystring: PageQuery } }, list('service_account'));

    app.get<{ Params: MemberParams }>('/members/:id', { schema: { params: MemberParams } }, async (request) => {
      const member = await findMember(deps.pool, projectOf(request).id, request.params.id);
      if (!member) throw new ApiError('member_not_found', undefined, 'id');
      return memberView(member);
    });

    app.post<{ Body: Static<typeof UserBody> }>('/users', { schema: { body: UserBody } }, async (request, reply) => {
      const { email, display_name, roles, password } = request.body;
      const member = await addUser(
        deps.pool,
        projectOf(request).id,
        { email, displayName: display_name, roles, ...(password === undefined ? {} : { password }) },
        actorFor(request),
      );
      return reply.status(201).send(memberView(member));
    });

    app.post<{ Body: Static<typeof ServiceAccountBody> }>(
      '/service-accounts',
      { schema: { body: ServiceAccountBody } },
      async (request, reply) => {
        const member = await addServiceAccount(deps.pool, projectOf(request).id, request.body, actorFor(request));
        return reply.status(201).send(memberView(member));
      },
    );

    app.put<{ Params: MemberParams; Body: Static<typeof RolesBody> }>(
      '/members/:id/roles',
      { schema: { params: MemberParams, body: RolesBody } },
      async (request) =>
        memberView(
          await setRoles(deps.pool, projectOf(request).id, request.params.id, request.body.roles, actorFor(request)),
        ),
    );

    app.patch<{ Params: MemberParams; Body: Static<typeof PatchBody> }>(
      '/members/:id',
      { schema: { params: MemberParams, body: PatchBody } },
      async (request) => {
        const { status, display_name } = request.body;
        const change = { ...(status ? { status } : {}), ...(display_name ? { displayName: display_name } : {}) };
        return memberView(
          await setStatus(deps.pool, projectOf(request).id, request.params.id, change, actorFor(request)),
        );
      },
    );

    app.delete<{ Params: MemberParams }>(
      '/members/:id',
      { schema: { params: MemberParams } },
      async (request, reply) => {
        await removeMember(deps.pool, projectOf(request).id, request.params.id, actorFor(request));
        return reply.status(204).send();
      },
    );

    app.put<{ Params: MemberParams; Body: Static<typeof PasswordBody> }>(
      '/members/:id/password',
      { schema: { params: MemberParams, body: PasswordBody } },
      async (request, reply) => {
        await resetPassword(
          deps.pool,
          projectOf(request).id,
          request.params.id,
          request.body.password,
          actorFor(request),
        );
        return reply.status(204).send();
      },
    );
  };
}
