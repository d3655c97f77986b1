import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOidcSignIn } from '../../services/router/people/oidc.js';
import { parseRoleMap } from '../../services/router/people/oidc-rules.js';
import { startAppHarness, type AppHarness } from '../helpers/app-harness.js';
import { bearer, type SeededProject } from '../helpers/fixtures.js';
import { capturingLogger } from '../helpers/logger.js';
import {
  followUntil,
  startIdentityProvider,
  type TestAccount,
  type TestIdentityProvider,
} from '../helpers/oidc-provider.js';

const CALLBACK = 'http://router.test/v1/auth/oidc/callback';
const CLI = 'http://127.0.0.1:53682/callback';

describe('single sign-on through a real OpenID Connect provider', () => {
  let idp: TestIdentityProvider;
  let harness: AppHarness;
  let app: FastifyInstance;
  let acme: SeededProject;
  const log = capturingLogger('trace');

  beforeAll(async () => {
    idp = await startIdentityProvider({ redirectUri: CALLBACK });
    harness = await startAppHarness({
      app: (pool, project) => ({
        logger: log.logger,
        // As the router's composition root builds it from the XEROTIER_AUTH_OIDC_* settings.
        oidc: createOidcSignIn({
          pool,
          logger: log.logger,
          settings: {
            issuer: idp.issuer,
            clientId: idp.clientId,
            clientSecret: idp.clientSecret,
            redirectUrl: CALLBACK,
            project: project.project.slug,
            scopes: ['openid', 'email', 'profile', 'groups'],
            allowedDomains: ['example.com'],
            rolesClaim: 'groups',
            roleMap: parseRoleMap(['sre=operator+approver', 'auditors=viewer', 'platform=admin']),
            defaultRoles: [],
            redirectAllowedOrigins: ['https://ui.example.com'],
          },
        }),
      }),
    });
    ({ app, acme } = harness);
  });
  afterAll(async () => {
    await harness.close();
    await idp.close();
  });

  /** The whole browser round trip: start at the router, log in at the provider, back to the callback. */
  async function signIn(subject: string, account: TestAccount, redirectTo: string | null = CLI) {
    idp.signInAs(subject, account);
    const query = new URLSearchParams({ client: 'cli', ...(redirectTo ? { redirect_to: redirectTo } : {}) });
    const start = await app.inject({ method: 'GET', url: `/v1/auth/oidc/start?${query.toString()}` });
    expect(start.statusCode).toBe(302);
    const callback = await followUntil(start.headers.location as string, CALLBACK);
    return app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}` });
  }
  const person = (groups: string[], email = 'sam@example.com'): TestAccount => ({
    email,
    email_verified: true,
    name: 'Sam Sre',
    groups,
  });

  it('signs a new person in just in time, with roles from their groups, through a one-time code', async () => {
    const callback = await signIn('sub-sam', person(['sre']));
    expect(callback.statusCode).toBe(302);
    const redirect = new URL(callback.headers.location as string);
    expect(redirect.origin + redirect.pathname).toBe(CLI);
    const code = redirect.searchParams.get('code')!;
    const session = await app.inject({ method: 'POST', url: '/v1/auth/sessions', payload: { method: 'code', code } });
    expect(session.statusCode).toBe(201);
    expect(session.json()).toMatchObject({
      method: 'oidc',
      client: 'cli',
      principal: { email: 'sam@example.com', kind: 'user' },
    });
    const whoami = await app.inject({
      method: 'GET',
      url: `/${acme.project.id}/v1/auth/whoami`,
      headers: bearer(session.json().key as string),
    });
    expect(whoami.json()).toMatchObject({ roles: ['operator', 'approver'], principal: { display_name: 'Sam Sre' } });
    const again = await app.inject({ method: 'POST', url: '/v1/auth/sessions', payload: { method: 'code', code } });
    expect(again.json().error.code).toBe('sign_in_code_invalid');
    const replay = await app.inject({ method: 'GET', url: `/v1/auth/oidc/callback?code=x&state=${'a'.repeat(43)}` });
    expect([replay.statusCode, replay.json().error.code]).toEqual([401, 'oidc_sign_in_failed']);
  });

  it('follows the provider: changed groups change the roles at the next sign-in, the same person stays one user', async () => {
    const callback = await signIn('sub-sam', person(['auditors']));
    const code = new URL(callback.headers.location as string).searchParams.get('code')!;
    const session = await app.inject({ method: 'POST', url: '/v1/auth/sessions', payload: { method: 'code', code } });
    expect(session.json().scopes).not.toContain('inference');
    const users = await harness.pool.query("SELECT id FROM principals WHERE email = 'sam@example.com'");
    expect(users.rowCount).toBe(1);
    const member = await harness.pool.query('SELECT roles FROM memberships WHERE principal_id = $1', [
      users.rows[0].id,
    ]);
    expect(member.rows[0].roles).toEqual(['viewer']);
  });

  it('refuses other domains, unverified emails, people whose groups map to no role, and foreign redirects', async () => {
    const foreign = await signIn('sub-eve', person(['sre'], 'eve@elsewhere.org'));
    expect([foreign.statusCode, foreign.json().error.code]).toEqual([403, 'oidc_email_not_allowed']);
    const unverified = await signIn('sub-una', { ...person(['sre'], 'una@example.com'), email_verified: false });
    expect(unverified.json().error.code).toBe('oidc_email_not_allowed');
    const nobody = await signIn('sub-nora', person(['marketing'], 'nora@example.com'));
    expect([nobody.statusCode, nobody.json().error.code]).toEqual([403, 'oidc_no_role']);
    const evil = await app.inject({
      method: 'GET',
      url: `/v1/auth/oidc/start?redirect_to=${encodeURIComponent('https://evil.example/cb')}`,
    });
    expect([evil.statusCode, evil.json().error.code]).toEqual([400, 'redirect_not_allowed']);
    const ui = await app.inject({
      method: 'GET',
      url: `/v1/auth/oidc/start?client=ui&redirect_to=${encodeURIComponent('https://ui.example.com/auth/done')}`,
    });
    expect(ui.statusCode).toBe(302);
  });

  it('shows the code as JSON when no redirect was named, refuses a disabled person, and logs no secret', async () => {
    const shown = await signIn('sub-jo', person(['platform'], 'jo@example.com'), null);
    expect(shown.json()).toMatchObject({ object: 'sign_in_code', expires_in: 60 });
    expect(shown.json().code).toMatch(/^xsc_/);
    await harness.pool.query("UPDATE principals SET status = 'disabled' WHERE email = 'jo@example.com'");
    const disabled = await signIn('sub-jo', person(['platform'], 'jo@example.com'));
    expect(disabled.json().error.code).toBe('principal_disabled');
    const providers = await app.inject({ method: 'GET', url: '/v1/auth/providers' });
    expect(providers.json()).toMatchObject({ password: true, oidc: { start_url: '/v1/auth/oidc/start' } });
    const logged = log.lines().join('\n');
    expect(logged).not.toContain(idp.clientSecret);
    expect(logged).not.toContain(shown.json().code as string);
  });
});
