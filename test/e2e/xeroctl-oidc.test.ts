import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { followUntil, startIdentityProvider, type TestIdentityProvider } from '../helpers/oidc-provider.js';
import { waitFor } from '../helpers/processes.js';
import { startRouterHarness, type RouterHarness } from '../helpers/router-harness.js';
import { startXeroctl, xeroctl } from '../helpers/xeroctl.js';
import { freePort } from '../helpers/embedded-server.js';

/**
 * `xeroctl login --oidc` through a real OpenID Connect provider and a real router: the CLI's
 * loopback listener receives the router's one-time code (never the session key) and trades it.
 */
describe('xeroctl single sign-on', () => {
  let idp: TestIdentityProvider;
  let router: RouterHarness;
  let home: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    const port = await freePort();
    const callback = `http://127.0.0.1:${port}/v1/auth/oidc/callback`;
    idp = await startIdentityProvider({ redirectUri: callback });
    router = await startRouterHarness({
      env: {
        XEROTIER_HTTP_PORT: String(port),
        XEROTIER_AUTH_OIDC_ISSUER: idp.issuer,
        XEROTIER_AUTH_OIDC_CLIENT_ID: idp.clientId,
        XEROTIER_AUTH_OIDC_CLIENT_SECRET: idp.clientSecret,
        XEROTIER_AUTH_OIDC_REDIRECT_URL: callback,
        XEROTIER_AUTH_OIDC_ALLOWED_DOMAINS: 'example.com',
        XEROTIER_AUTH_OIDC_ROLE_MAP: 'sre=operator+approver',
        XEROTIER_AUTH_OIDC_SCOPES: 'openid email profile groups',
        // The harness seeds its own database's project as acme.
        XEROTIER_AUTH_OIDC_PROJECT: 'acme',
      },
    });
    home = mkdtempSync(join(tmpdir(), 'xeroctl-sso-'));
    env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
  }, 120_000);
  afterAll(async () => {
    await router?.close();
    await idp?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('signs in at the provider in a browser and keeps the session in the context', async () => {
    const added = await xeroctl(
      ['config', 'add', 'sso', '--url', router.url, '--project', router.project.project.slug],
      { env },
    );
    expect(added.code, added.stderr).toBe(0);
    const login = startXeroctl(['login', '--oidc', '--no-browser'], { env });
    onTestFinished(() => login.kill('SIGKILL'));
    const start = await waitFor(
      'the sign-in address',
      20_000,
      async () => /(http:\/\/\S+\/v1\/auth\/oidc\/start\?\S+)/.exec(login.stderr())?.[1],
    );
    const loopback = new URL(start).searchParams.get('redirect_to')!;
    expect(new URL(loopback).hostname).toBe('127.0.0.1');
    idp.signInAs('sub-sam', { email: 'sam@example.com', email_verified: true, name: 'Sam Sre', groups: ['sre'] });
    // The browser: provider, router callback, then the CLI's listener with the code.
    const atRouter = await followUntil(start, `${router.url}/v1/auth/oidc/callback`);
    const answered = await fetch(atRouter, { redirect: 'manual' });
    expect(answered.status, await answered.clone().text()).toBe(302);
    const back = new URL(answered.headers.get('location')!);
    expect(back.searchParams.get('code')).toMatch(/^xsc_/);
    expect(back.href).not.toMatch(/xero_/);
    expect((await fetch(back)).status).toBe(200);
    expect(await login.exited, login.stderr()).toBe(0);
    const status = await xeroctl(['status', '-o', 'json'], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).whoami).toMatchObject({
      principal: { email: 'sam@example.com' },
      roles: ['operator', 'approver'],
    });
  });
});
