import { createHash } from 'node:crypto';
import { toWireValue } from './canonical.js';

/** A capability manifest as agents publish it; tools and workspaces grow with the XEM agent. */
export type Manifest = Record<string, unknown>;

/** sha256 of the canonical JSON (sorted keys, no undefined): equal manifests, equal hashes. */
export function hashManifest(manifest: Manifest): string {
  return createHash('sha256')
    .update(JSON.stringify(toWireValue(manifest)))
    .digest('hex');
}
