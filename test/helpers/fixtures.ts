import { randomBytes } from 'node:crypto';
import { generateCurveKeyPair } from '../../services/protocol/curve-keys.js';
import { createAgentTokens } from '../../services/router/auth/agent-tokens.js';
import { mintApiKey } from '../../services/router/auth/secrets.js';
import type { EnrollmentSettings } from '../../services/router/enrollment/enroll.js';
import { insertApiKey, type Scope } from '../../services/router/store/api-keys.js';
import type { Queryable } from '../../services/router/store/db.js';
import { createProject, type Project, type Workspace } from '../../services/router/store/projects.js';

export interface SeededProject {
  readonly project: Project;
  readonly workspace: Workspace;
  /** An API key with every scope. */
  readonly adminKey: string;
  keyWith(scopes: readonly Scope[], options?: { expiresAt?: Date }): Promise<string>;
}

/** A fresh project (random slug), its default workspace and an all-scopes key. */
export async function seedProject(db: Queryable, slug = `p-${randomBytes(4).toString('hex')}`): Promise<SeededProject> {
  const { project, workspace } = await createProject(db, { slug, name: slug });
  const keyWith = async (scopes: readonly Scope[], options: { expiresAt?: Date } = {}) => {
    const minted = mintApiKey(project.slug);
    await insertApiKey(db, {
      projectId: project.id,
      name: `test ${scopes.join('+')}`,
      scopes,
      secretHash: minted.hash,
      prefix: minted.prefix,
      expiresAt: options.expiresAt ?? null,
    });
    return minted.token;
  };
  return { project, workspace, adminKey: await keyWith(['inference', 'management', 'execution']), keyWith };
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
