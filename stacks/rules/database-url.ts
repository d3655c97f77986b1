/**
 * Postgres URLs for the two roles: the schema owner's (migrations) and the app role's (the
 * router), which differ only in the user and password. Pure.
 */
export function withRole(ownerUrl: string, user: string, password: string): string {
  const url = new URL(ownerUrl);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  return url.toString();
}

/**
 * TLS that verifies the server against a given CA bundle: node-postgres reads `sslrootcert` into
 * the connection's CA and, with `verify-full`, checks the chain and the host name.
 */
export function verifiedTls(url: string, caPath: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('sslmode', 'verify-full');
  parsed.searchParams.set('sslrootcert', caPath);
  return parsed.toString();
}

/** Where the router image keeps Amazon RDS's CA bundle (images/router/Dockerfile). */
export const RDS_CA_BUNDLE = '/etc/ssl/certs/rds-global-bundle.pem';
