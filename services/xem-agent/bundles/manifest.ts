import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../../protocol/manifest.js';
import type { LoadedTool } from './loader.js';

const WORKSPACE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * What the router may know about this agent: each tool's name, description, risk, domain,
 * parameter schema, timeout and whether it needs credentials, plus the workspaces served.
 * Never the credentials themselves, nor paths on this host.
 */
export function buildManifest(tools: ReadonlyMap<string, LoadedTool>, workspaces: readonly string[]): Manifest {
  const descriptors = [...tools.values()]
    .map((tool) => ({
      name: tool.spec.name,
      description: tool.spec.description,
      risk: tool.spec.risk,
      domain: tool.domain,
      bundle: tool.bundle,
      ...(tool.bundleVersion ? { bundle_version: tool.bundleVersion } : {}),
      parameters: tool.spec.parameters,
      timeout_ms: tool.spec.timeout_ms,
      requires_credentials: tool.spec.credentials_ref !== undefined,
      ...(tool.unavailable ? { available: false, unavailable_reason: tool.unavailable } : {}),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { tools: descriptors, workspaces: [...workspaces].sort() };
}

/** Workspaces this host serves: the folders present under the credentials directory. */
export function servedWorkspaces(credentialsDir: string): string[] {
  if (!existsSync(credentialsDir)) return [];
  return readdirSync(credentialsDir).filter(
    (name) => WORKSPACE.test(name) && statSync(join(credentialsDir, name)).isDirectory(),
  );
}

export { ManifestVersions } from '../../agent/manifest-versions.js';
