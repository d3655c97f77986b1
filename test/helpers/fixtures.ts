import { randomBytes } from 'node:crypto';
import { generateCurveKeyPair } from '../../services/protocol/curve-keys.js';
import { createAgentTokens } from '../../services/router/auth/agent-tokens.js';
import { mintApiKey } from '../../services/router/auth/secrets.js';
import type { EnrollmentSettings } from '../../services/router/enrollment/enroll.js';
import { ROLES, type Role } from '../../services/router/people/roles.js';
import { insertApiKey, type Scope } from '../../services/router/store/api-keys.js';
import { insertUser, upsertMembership } from '../../services/router/store/principals.js';
import type { Queryable } from '../../services/router/store/db.js';
import { createProject, type Project, type Workspace } from '../../services/router/store/projects.js';

export interface SeededProject {
  readonly project: Project;
  readonly workspace: Workspace;
  /** An API key with every scope, of the project's admin user (who holds every role). */
  readonly adminKey: string;
  /** The admin user who owns adminKey and the keys of keyWith. */
  readonly adminId: string;
  keyWith(scopes: readonly Scope[], options?: { expiresAt?: Date; owner?: string }): Promise<string>;
  /** Another person in the project with these roles, and a key of theirs with every scope their roles allow. */
  member(roles: readonly Role[], scopes?: readonly Scope[]): Promise<{ id: string; key: string }>;
}

/** A fresh project (random slug), its default workspace and an all-scopes key. */
export async function seedProject(db: Queryable, slug = `p-${randomBytes(4).toString('hex')}`): Promise<SeededProject> {
  const { project, workspace } = await createProject(db, { slug, name: slug });
  const person = async (roles: readonly Role[]) => {
    const user = await insertUser(db, {
      email: `${randomBytes(6).toString('hex')}@${slug}.test`,
      displayName: `test ${roles.join('+')}`,
    });
    await upsertMembership(db, project.id, user.id, roles);
    return user.id;
  };
  const adminId = await person(ROLES);
  const keyWith = async (scopes: readonly Scope[], options: { expiresAt?: Date; owner?: string } = {}) => {
    const minted = mintApiKey(project.slug);
    await insertApiKey(db, {
      principalId: options.owner ?? adminId,
      projectId: project.id,
      name: `test ${scopes.join('+')}`,
      scopes,
      secretHash: minted.hash,
      prefix: minted.prefix,
      expiresAt: options.expiresAt ?? null,
    });
    return minted.token;
  };
  const member = async (
    roles: readonly Role[],
    scopes: readonly Scope[] = ['inference', 'management', 'execution'],
  ) => {
    const id = await person(roles);
    return { id, key: await keyWith(scopes, { owner: id }) };
  };
  return {
    project,
    workspace,
    adminId,
    adminKey: await keyWith(['inference', 'management', 'execution']),
    keyWith,
    member,
  };
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** Enrollment settings with fresh router keys (what the router builds from its settings), for app-only tests. */
export function testEnrollment(
  overrides: Partial<Omit<EnrollmentSettings, 'meshEndpoint'>> & { meshEndpoint?: string } = {},
): EnrollmentSettings & { curveSecretKey: string } {
  const curve = generateCurveKeyPair();
  const { meshEndpoint = 'tcp://127.0.0.1:5555', ...rest } = overrides;
  return {
    tokens: createAgentTokens(randomBytes(32).toString('hex'), 3_600),
    routerCurvePublicKey: curve.publicKey,
    curveSecretKey: curve.secretKey,
    meshEndpoint: () => meshEndpoint,
    leaseRenewalIntervalMs: 10_000,
    ...rest,
  };
}
