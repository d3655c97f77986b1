import { hashManifest, type Manifest } from '../protocol/manifest.js';

/** Tracks the manifest version: bumped whenever the manifest's hash changes. */
export class ManifestVersions {
  private hash = '';
  private version = 0;

  current(manifest: Manifest): { manifest: Manifest; version: number; hash: string } {
    const hash = hashManifest(manifest);
    if (hash !== this.hash) {
      this.hash = hash;
      this.version += 1;
    }
    return { manifest, version: this.version, hash };
  }
}
