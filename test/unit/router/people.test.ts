import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../services/runtime/config/load.js';
import type { ConfigError } from '../../../services/runtime/config/errors.js';
import { routerConfigSchema } from '../../../services/router/config.js';
import { judgeClaims, parseRoleMap, redirectAllowed } from '../../../services/router/people/oidc-rules.js';
import { hashPassword, passwordProblem, verifyPassword } from '../../../services/router/people/passwords.js';
import {
  effectivePermissions,
  missingBecause,
  ROLE_PERMISSIONS,
  scopesAllowed,
} from '../../../services/router/people/roles.js';

describe('roles and scopes', () => {
  it('a key does what its scopes carry and its roles give, no more', () => {
    expect([...effectivePermissions(['execution'], ['viewer'])].sort()).toEqual(['exec.read']);
    expect([...effectivePermissions(['execution'], ['operator', 'approver'])].sort()).toEqual([
      'exec.approve',
      'exec.invoke',
      'exec.read',
    ]);
    expect([...effectivePermissions(['inference'], ['viewer'])]).toEqual([]);
    expect(effectivePermissions(['management'], []).size).toBe(0);
    expect(missingBecause('exec.invoke', ['execution'], ['viewer'])).toBe('role');
    expect(missingBecause('exec.invoke', ['inference'], ['operator'])).toBe('scope');
  });

  it('no role implies another: admin alone does not approve or invoke', () => {
    expect(ROLE_PERMISSIONS.admin).not.toContain('exec.approve');
    expect(ROLE_PERMISSIONS.admin).not.toContain('exec.invoke');
    expect(scopesAllowed(['viewer'])).toEqual(['execution', 'management']);
    expect(scopesAllowed(['operator'])).toEqual(['inference', 'execution', 'management']);
  });
});

describe('passwords', () => {
  it('hash with scrypt, verify in constant time, and refuse weak ones', async () => {
    const stored = await hashPassword('a long enough secret', { N: 2 ** 10, r: 8, p: 1 });
    expect(stored).toMatch(/^scrypt\$1024\$8\$1\$/);
    expect(await verifyPassword('a long enough secret', stored)).toBe(true);
    expect(await verifyPassword('a long enough secreT', stored)).toBe(false);
    expect(await verifyPassword('anything', null)).toBe(false);
    expect(passwordProblem('short')).toBeDefined();
    expect(passwordProblem('anatolia-1234567', 'anatolia@example.com')).toBeDefined();
    expect(passwordProblem('correct horse battery')).toBeUndefined();
  });
});

describe('OIDC claim rules', () => {
  const rules = {
    allowedDomains: ['example.com'],
    rolesClaim: 'groups',
    roleMap: parseRoleMap(['sre=operator+approver', 'sre=viewer', 'admins=admin']),
    defaultRoles: [] as const,
  };
  const claims = { email: 'Ana@Example.com', email_verified: true, name: 'Ana', groups: ['sre', 'other'] };

  it('maps groups to roles, takes a verified email in an allowed domain, and a string claim too', () => {
    expect(judgeClaims(claims, rules, false)).toEqual({
      ok: true,
      email: 'ana@example.com',
      name: 'Ana',
      mapped: ['operator', 'approver', 'viewer'],
    });
    expect(judgeClaims({ ...claims, groups: 'admins' }, rules, false)).toMatchObject({ mapped: ['admin'] });
  });

  it('refuses unverified emails, other domains, and newcomers without a role; members keep theirs', () => {
    expect(judgeClaims({ ...claims, email_verified: 'true' }, rules, false)).toMatchObject({
      reason: 'oidc_email_not_allowed',
    });
    expect(judgeClaims({ ...claims, email: 'a@example.com.evil.org' }, rules, false)).toMatchObject({
      reason: 'oidc_email_not_allowed',
    });
    expect(judgeClaims({ ...claims, groups: [] }, rules, false)).toMatchObject({ reason: 'oidc_no_role' });
    expect(judgeClaims({ ...claims, groups: [] }, rules, true)).toMatchObject({ ok: true, mapped: [] });
    expect(() => parseRoleMap(['sre=root'])).toThrow(/sre=root/);
  });

  it('redirects only to loopback or an allowed origin', () => {
    expect(redirectAllowed('http://127.0.0.1:53682/cb', [])).toBe(true);
    expect(redirectAllowed('http://localhost:8080/cb', [])).toBe(true);
    expect(redirectAllowed('https://ui.example.com/done', ['https://ui.example.com'])).toBe(true);
    expect(redirectAllowed('https://ui.example.com.evil.org/done', ['https://ui.example.com'])).toBe(false);
    expect(redirectAllowed('https://user@ui.example.com/', ['https://ui.example.com'])).toBe(false);
    expect(redirectAllowed('javascript:alert(1)', [])).toBe(false);
    expect(redirectAllowed('not a url', [])).toBe(false);
  });

  it('router settings: SSO needs its client, a project and https (except loopback)', () => {
    const env = {
      XEROTIER_DATABASE_URL: 'postgres://u:p@db/x',
      XEROTIER_COMPLETION_ENCRYPTION_KEY: 'a'.repeat(64),
      XEROTIER_TOKEN_SIGNING_KEY: 'b'.repeat(64),
      XEROTIER_ROUTER_CURVE_SECRET_KEY: 'c'.repeat(40),
      XEROTIER_AUDIT_SIGNING_KEY: 'd'.repeat(64),
      XEROTIER_AUTH_OIDC_ISSUER: 'http://idp.example.com',
      XEROTIER_AUTH_OIDC_ROLE_MAP: 'sre=superuser',
    };
    let message = '';
    try {
      loadConfig(routerConfigSchema, { env, readFile: () => null });
    } catch (error) {
      message = (error as ConfigError).message;
    }
    for (const expected of [
      'auth_oidc_client_id',
      'auth_oidc_client_secret',
      'auth_oidc_redirect_url',
      'auth_oidc_project',
      'auth_oidc_issuer: expected an https URL',
      'auth_oidc_role_map',
    ])
      expect(message).toContain(expected);
  });
});
