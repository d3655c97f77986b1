import { isRole, type Role } from './roles.js';

/** What the router does with an identity provider's claims: pure, so the rules are tested alone. */
export interface ClaimRules {
  /** Email domains allowed to sign in; empty: any (the provider's own policy decides). */
  readonly allowedDomains: readonly string[];
  /** The claim holding group or role names, e.g. `groups`. */
  readonly rolesClaim: string;
  /** Claim value → roles. */
  readonly roleMap: ReadonlyMap<string, readonly Role[]>;
  /** Roles for someone whose claims map to none. Empty: they cannot sign in until an admin adds them. */
  readonly defaultRoles: readonly Role[];
}

export type ClaimVerdict =
  | { readonly ok: true; readonly email: string; readonly name: string; readonly mapped: readonly Role[] }
  | { readonly ok: false; readonly reason: 'oidc_email_not_allowed' | 'oidc_no_role'; readonly detail: string };

/**
 * The email must be verified by the provider and in an allowed domain; the roles claim (a string
 * or a list) maps through the role map. `mapped` is empty when nothing matched: then an existing
 * member keeps the roles an admin gave them, and a newcomer gets the default roles (or is refused).
 */
export function judgeClaims(claims: Record<string, unknown>, rules: ClaimRules, isMember: boolean): ClaimVerdict {
  const email = typeof claims['email'] === 'string' ? claims['email'].trim().toLowerCase() : '';
  if (!email.includes('@') || claims['email_verified'] !== true)
    return { ok: false, reason: 'oidc_email_not_allowed', detail: 'the provider gave no verified email' };
  const domain = email.slice(email.lastIndexOf('@') + 1);
  if (rules.allowedDomains.length > 0 && !rules.allowedDomains.includes(domain))
    return { ok: false, reason: 'oidc_email_not_allowed', detail: `${domain} is not an allowed domain` };
  const mapped = mapRoles(claims[rules.rolesClaim], rules.roleMap);
  if (mapped.length === 0 && !isMember && rules.defaultRoles.length === 0)
    return { ok: false, reason: 'oidc_no_role', detail: `no ${rules.rolesClaim} value maps to a role` };
  const name =
    typeof claims['name'] === 'string' && claims['name'].trim() ? claims['name'].trim().slice(0, 200) : email;
  return { ok: true, email, name, mapped };
}

function mapRoles(value: unknown, roleMap: ReadonlyMap<string, readonly Role[]>): Role[] {
  const values = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  const roles = new Set<Role>();
  for (const entry of values)
    if (typeof entry === 'string') for (const role of roleMap.get(entry) ?? []) roles.add(role);
  return [...roles];
}

/** `value=role+role` entries (XEROTIER_AUTH_OIDC_ROLE_MAP); throws naming a bad entry. */
export function parseRoleMap(entries: readonly string[]): Map<string, Role[]> {
  const map = new Map<string, Role[]>();
  for (const entry of entries) {
    const at = entry.lastIndexOf('=');
    const roles = entry.slice(at + 1).split('+');
    if (at < 1 || !roles.every(isRole))
      throw new Error(
        `role map entry "${entry.slice(0, 80)}" is not value=role+role (roles: viewer, operator, approver, admin)`,
      );
    map.set(entry.slice(0, at), [...new Set([...(map.get(entry.slice(0, at)) ?? []), ...(roles as Role[])])]);
  }
  return map;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function isLoopback(url: URL): boolean {
  return LOOPBACK.has(url.hostname);
}

/**
 * Where a finished sign-in may send its one-time code: a loopback address on any port (the CLI
 * listening for it) or a URL under an allowed origin (the web UI). Anything else would hand the
 * code to whoever wrote the link.
 */
export function redirectAllowed(target: string, allowedOrigins: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (url.username || url.password) return false;
  return isLoopback(url) || allowedOrigins.some((origin) => new URL(origin).origin === url.origin);
}
