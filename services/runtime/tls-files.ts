import { readFileSync } from 'node:fs';

/** A service's PEM certificate chain and key, read once at start; undefined unless both are set. */
export function readTlsFiles(
  certPath: string | undefined,
  keyPath: string | undefined,
): { readonly cert: Buffer; readonly key: Buffer } | undefined {
  return certPath !== undefined && keyPath !== undefined
    ? { cert: readFileSync(certPath), key: readFileSync(keyPath) }
    : undefined;
}
