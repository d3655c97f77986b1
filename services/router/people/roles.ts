import type { Scope } from '../store/api-keys.js';

export type Role = 'viewer' | 'operator' | 'approver' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'approver', 'admin'];

/** What a request may do. Routes name one; a key holds the intersection of its scopes' and its principal's roles'. */
export type Permission =
  | 'inference.use'
  | 'exec.read'
  | 'exec.invoke'
  | 'exec.approve'
  | 'audit.read'
  | 'manage.read'
  | 'manage.write'
  | 'keys.own';

const READ: readonly Permission[] = ['exec.read', 'audit.read', 'manage.read', 'keys.own'];

/**
 * Roles → permissions, the one table (docs/identity.md prints it). Roles add up; none implies
 * another: an admin who should also approve holds both roles, so separation of duties is a choice.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  viewer: READ,
  operator: [...READ, 'inference.use', 'exec.invoke'],
  approver: [...READ, 'exec.approve'],
  admin: [...READ, 'manage.write'],
};

/** Scopes → permissions: what a key's scopes can carry at most. */
export const SCOPE_PERMISSIONS: Readonly<Record<Scope, readonly Permission[]>> = {
  inference: ['inference.use'],
  execution: ['exec.read', 'exec.invoke', 'exec.approve'],
  management: ['manage.read', 'manage.write', 'audit.read', 'keys.own'],
};

export function rolePermissions(roles: readonly Role[]): Set<Permission> {
  return new Set(roles.flatMap((role) => ROLE_PERMISSIONS[role] ?? []));
}

/** What a key may do now: its scopes capped by its principal's current roles (losing a role bites at once). */
export function effectivePermissions(scopes: readonly Scope[], roles: readonly Role[]): Set<Permission> {
  const allowed = rolePermissions(roles);
  return new Set(scopes.flatMap((scope) => SCOPE_PERMISSIONS[scope].filter((permission) => allowed.has(permission))));
}

/** The scopes a principal with these roles may put on a key: those that carry at least one of its permissions. */
export function scopesAllowed(roles: readonly Role[]): Scope[] {
  const allowed = rolePermissions(roles);
  return (Object.keys(SCOPE_PERMISSIONS) as Scope[]).filter((scope) =>
    SCOPE_PERMISSIONS[scope].some((permission) => allowed.has(permission)),
  );
}

/** Why a permission is missing: the key's scopes lack it, or the principal's roles do. */
export function missingBecause(
  permission: Permission,
  scopes: readonly Scope[],
  roles: readonly Role[],
): 'scope' | 'role' {
  const scoped = scopes.some((scope) => SCOPE_PERMISSIONS[scope].includes(permission));
  return scoped && !rolePermissions(roles).has(permission) ? 'role' : 'scope';
}

/** The scope that carries a permission, for error messages. */
export function scopeFor(permission: Permission): Scope {
  return (Object.keys(SCOPE_PERMISSIONS) as Scope[]).find((scope) => SCOPE_PERMISSIONS[scope].includes(permission))!;
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}
