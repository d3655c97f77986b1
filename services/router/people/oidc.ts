import { randomBytes } from 'node:crypto';
import * as openid from 'openid-client';
import { ApiError } from '../http/errors.js';
import type { Logger } from '../../runtime/logger.js';
import type { SessionClient } from '../store/api-keys.js';
import { appendAudit } from '../store/audit-log.js';
import { withTransaction, type Queryable } from '../store/db.js';
import type { Pool } from '../store/pool.js';
import {
  findMember,
  findUserByEmail,
  findUserByOidc,
  insertUser,
  linkOidc,
  upsertMembership,
} from '../store/principals.js';
import { findProject } from '../store/projects.js';
import { isLoopback, judgeClaims, redirectAllowed, type ClaimRules } from './oidc-rules.js';
import { issueCode } from './sign-in-codes.js';

export interface OidcSettings extends ClaimRules {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** This router's callback, as registered with the provider: `https://…/v1/auth/oidc/callback`. */
  readonly redirectUrl: string;
  /** The project people signing in this way join (a slug or id). */
  readonly project: string;
  /** Scopes asked for; `openid` among them. */
  readonly scopes: readonly string[];
  /** Origins (the web UI's) a finished sign-in may redirect to; loopback is always allowed. */
  readonly redirectAllowedOrigins: readonly string[];
}

/** A sign-in between the redirect to the provider and its callback lives this long. */
const LOGIN_LIFETIME_MS = 10 * 60_000;

export interface OidcSignIn {
  /** The provider's authorization URL for a new sign-in. */
  start(request: { client: SessionClient; redirectTo?: string }, now: Date): Promise<URL>;
  /** Checks the provider's answer and issues a one-time code for a session. */
  callback(query: string, now: Date): Promise<{ code: string; redirectTo: string | null }>;
}

/**
 * OpenID Connect sign-in (authorization code flow with PKCE, state and nonce, through
 * `openid-client`). Everything the browser carries is checked against what the router stored:
 * the state names a pending login (used once), the nonce is in the signed ID token, the code
 * verifier proves the code was asked for here. The provider is discovered on first use and again
 * after a failure; plain http is allowed only for a loopback issuer (a test or local provider).
 */
export function createOidcSignIn(deps: { pool: Pool; settings: OidcSettings; logger: Logger }): OidcSignIn {
  const { pool, settings } = deps;
  let discovered: Promise<openid.Configuration> | undefined;
  const configuration = () => {
    discovered ??= openid
      .discovery(new URL(settings.issuer), settings.clientId, settings.clientSecret, undefined, {
        ...(isLoopback(new URL(settings.issuer)) ? { execute: [openid.allowInsecureRequests] } : {}),
      })
      .catch((error: unknown) => {
        discovered = undefined;
        deps.logger.warning({ issuer: settings.issuer, err: error }, 'OIDC discovery failed');
        throw new ApiError('oidc_sign_in_failed', 'The identity provider cannot be reached; retry later');
      });
    return discovered;
  };
  return {
    async start(request, now) {
      if (request.redirectTo !== undefined && !redirectAllowed(request.redirectTo, settings.redirectAllowedOrigins))
        throw new ApiError('redirect_not_allowed', undefined, 'redirect_to');
      const project = await findProject(pool, settings.project);
      if (!project) throw new ApiError('oidc_not_configured', `The sign-in project ${settings.project} does not exist`);
      const config = await configuration();
      const [state, nonce, verifier] = [
        randomBytes(32).toString('base64url'),
        openid.randomNonce(),
        openid.randomPKCECodeVerifier(),
      ];
      await pool.query(
        `INSERT INTO oidc_logins (state, code_verifier, nonce, project_id, client, redirect_to, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          state,
          verifier,
          nonce,
          project.id,
          request.client,
          request.redirectTo ?? null,
          new Date(now.getTime() + LOGIN_LIFETIME_MS),
        ],
      );
      return openid.buildAuthorizationUrl(config, {
        redirect_uri: settings.redirectUrl,
        scope: settings.scopes.join(' '),
        response_type: 'code',
        state,
        nonce,
        code_challenge: await openid.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
    },

    async callback(query, now) {
      const params = new URLSearchParams(query);
      const login = await takeLogin(pool, params.get('state') ?? '', now);
      if (!login)
        throw new ApiError(
          'oidc_sign_in_failed',
          'This sign-in was not started here, was finished already, or expired',
        );
      if (params.has('error'))
        throw new ApiError(
          'oidc_sign_in_failed',
          `The identity provider refused: ${(params.get('error') ?? '').slice(0, 100)}`,
        );
      const claims = await verifiedClaims(await configuration(), settings, query, login, deps.logger);
      return withTransaction(pool, async (client) => {
        const principalId = await personFor(client, settings, login.project_id, claims);
        const code = await issueCode(client, { principalId, projectId: login.project_id, client: login.client }, now);
        return { code, redirectTo: login.redirect_to };
      });
    },
  };
}

interface PendingLogin {
  readonly code_verifier: string;
  readonly nonce: string;
  readonly state: string;
  readonly project_id: string;
  readonly client: SessionClient;
  readonly redirect_to: string | null;
}

/** A pending login is used once: taking it deletes it, so a replayed callback finds nothing. */
async function takeLogin(db: Queryable, state: string, now: Date): Promise<PendingLogin | undefined> {
  if (state.length < 32 || state.length > 128) return undefined;
  const taken = await db.query<PendingLogin>(
    'DELETE FROM oidc_logins WHERE state = $1 AND expires_at > $2 RETURNING state, code_verifier, nonce, project_id, client, redirect_to',
    [state, now],
  );
  return taken.rows[0];
}

async function verifiedClaims(
  config: openid.Configuration,
  settings: OidcSettings,
  query: string,
  login: PendingLogin,
  logger: Logger,
): Promise<Record<string, unknown> & { sub: string; iss: string }> {
  try {
    const tokens = await openid.authorizationCodeGrant(config, new URL(`${settings.redirectUrl}?${query}`), {
      pkceCodeVerifier: login.code_verifier,
      expectedState: login.state,
      expectedNonce: login.nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims()!;
    // Providers differ in what the ID token carries; userinfo fills in (the ID token wins).
    const userinfo = config.serverMetadata().userinfo_endpoint
      ? await openid.fetchUserInfo(config, tokens.access_token, idClaims.sub)
      : {};
    return { ...userinfo, ...idClaims } as Record<string, unknown> & { sub: string; iss: string };
  } catch (error) {
    logger.notice({ err: error instanceof Error ? error.message : String(error) }, 'OIDC callback refused');
    throw new ApiError('oidc_sign_in_failed');
  }
}

/**
 * The person behind verified claims: found by issuer and subject, else by email (then linked),
 * else created (just in time). Roles the claims map to replace the member's roles on every
 * sign-in (the provider is the source of truth for those); no mapped roles leave an existing
 * member's roles alone and give a newcomer the default roles.
 */
async function personFor(
  db: Queryable,
  settings: OidcSettings,
  projectId: string,
  claims: Record<string, unknown> & { sub: string; iss: string },
): Promise<string> {
  const bySubject = await findUserByOidc(db, claims.iss, claims.sub);
  const email = typeof claims['email'] === 'string' ? claims['email'] : '';
  const byEmail = bySubject ?? (email ? await findUserByEmail(db, email) : undefined);
  const member = byEmail ? await findMember(db, projectId, byEmail.id) : undefined;
  const verdict = judgeClaims(claims, settings, member !== undefined);
  if (!verdict.ok) throw new ApiError(verdict.reason, `Sign-in refused: ${verdict.detail}`);
  if (byEmail && !bySubject && byEmail.oidc_linked)
    throw new ApiError('oidc_sign_in_failed', 'This email is linked to another identity at the provider');
  if (byEmail?.status === 'disabled') throw new ApiError('principal_disabled');
  const user = byEmail ?? (await insertUser(db, { email: verdict.email, displayName: verdict.name }));
  if (!bySubject) await linkOidc(db, user.id, claims.iss, claims.sub);
  const roles = verdict.mapped.length > 0 ? verdict.mapped : (member?.roles ?? settings.defaultRoles);
  const changed = !member || member.roles.join() !== roles.join();
  if (changed) {
    await upsertMembership(db, projectId, user.id, roles);
    await appendAudit(db, {
      projectId,
      actor: 'router',
      event: member ? 'member.roles_changed' : 'member.added',
      subject: user.id,
      detail: { roles, from: member?.roles ?? null, source: 'oidc', issuer: claims.iss },
    });
  }
  return user.id;
}
