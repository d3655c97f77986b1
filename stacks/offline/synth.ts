import * as pulumi from '@pulumi/pulumi';
import { stringify } from 'yaml';
import { platformMocks, untilQuiet, type RecordedResource } from './mocks.js';
import { loadStackConfig } from './stack-file.js';

export interface Synthesis {
  /** Every resource the program registers: type, name, inputs (secrets redacted). */
  readonly resources: readonly RecordedResource[];
  /** The Kubernetes objects as manifests (multi-document YAML), secrets redacted. */
  readonly manifests: string;
}

/**
 * Runs the program for one stack file against mocks, as `pulumi preview` would without a cloud:
 * no CLI, no plugins, no credentials. Call once per process (Pulumi keeps its state globally).
 */
export async function synthesize(stack: string, program = '../index.js'): Promise<Synthesis> {
  const { mocks, resources } = platformMocks();
  pulumi.runtime.setAllConfig(loadStackConfig(stack), []);
  await pulumi.runtime.setMocks(mocks, 'xerotier', stack, false);
  await import(program);
  await untilQuiet(resources);
  // Registration order depends on when inputs resolve: sorted, two runs write the same files.
  const sorted = [...resources].sort((a, b) => `${a.type} ${a.name}`.localeCompare(`${b.type} ${b.name}`));
  return { resources: sorted, manifests: manifestsOf(sorted) };
}

/** `kubernetes:apps/v1:Deployment` inputs → `apiVersion: apps/v1, kind: Deployment, …`. */
export function manifestsOf(resources: readonly RecordedResource[]): string {
  return resources
    .filter((resource) => resource.type.startsWith('kubernetes:') && !resource.type.startsWith('kubernetes:index'))
    .map((resource) => {
      const [, group, kind] = /^kubernetes:([^:]+):(.+)$/.exec(resource.type)!;
      const apiVersion = group!.startsWith('core/') ? group!.slice('core/'.length) : group!;
      const metadata = (resource.inputs['metadata'] ?? {}) as Record<string, unknown>;
      return stringify({ apiVersion, kind, ...resource.inputs, metadata: { name: resource.name, ...metadata } });
    })
    .join('---\n');
}
