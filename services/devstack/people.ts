/**
 * The dev stack's person: the bootstrap admin user (admin@localhost) gets the dev password once,
 * through the router's API like an operator would, so the web UI and `xeroctl login` can sign in.
 * Idempotent: a password already set (by this or by hand) is left alone.
 */
export async function ensureDevAdminPassword(options: {
  routerUrl: string;
  projectId: string;
  adminKey: string;
  password: string;
}): Promise<string> {
  const headers = { authorization: `Bearer ${options.adminKey}`, 'content-type': 'application/json' };
  const base = `${options.routerUrl}/${options.projectId}/v1`;
  const whoami = await fetch(`${base}/auth/whoami`, { headers });
  if (whoami.status !== 200) throw new Error(`could not look up the dev admin: HTTP ${whoami.status}`);
  const admin = ((await whoami.json()) as { principal: { id: string; email: string } }).principal;
  const member = await fetch(`${base}/management/members/${admin.id}`, { headers });
  if (((await member.json()) as { has_password?: boolean }).has_password) return admin.email;
  const set = await fetch(`${base}/management/members/${admin.id}/password`, {
    method: 'PUT',
    headers,
    body: JSON.stringify({ password: options.password }),
  });
  if (set.status !== 204) throw new Error(`could not set the dev admin's password: HTTP ${set.status}`);
  return admin.email;
}
