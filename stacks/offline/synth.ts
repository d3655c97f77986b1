import * as pulumi from '@pulumi/pulumi';
import { stringify } from 'yaml';
import { platformMocks, untilQuiet, type RecordedResource } from './mocks.js';
import { ResourceGraph } from './resource-graph.js';
import { readStackFile, stackConfig } from './stack-file.js';

export interface Synthesis {
  /** Every resource the program registers: type, name, inputs (secrets redacted). */
  readonly resources: readonly RecordedResource[];
  /** The Kubernetes objects as manifests (multi-document YAML), secrets redacted. */
  readonly manifests: string;
  /** The resource options and the ordering they imply. */
  readonly graph: ResourceGraph;
}

/**
 * Runs the program for one stack file (a name in config/stacks, or a path to any stack file)
 * against mocks, as `pulumi preview` would without a cloud: no CLI, no plugins, no credentials.
 * Inside a root stack, as the engine runs it, so a stack transformation sees every resource's
 * options. Call once per module graph (Pulumi keeps its state globally; tests reset modules).
 */
export async function synthesize(stackOrPath: string, program = '../index.js'): Promise<Synthesis> {
  const file = readStackFile(stackOrPath);
  const { values, secretKeys } = stackConfig(file);
  const { mocks, resources } = platformMocks();
  const graph = new ResourceGraph();
  pulumi.runtime.setAllConfig({ ...values }, [...secretKeys]);
  await pulumi.runtime.setMocks(mocks, 'xerotier', file.stack, false);
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation(graph.transformation);
    return (await import(program)) as Record<string, unknown>;
  });
  await untilQuiet(resources);
  // Registration order depends on when inputs resolve: sorted, two runs write the same files.
  const sorted = [...resources].sort((a, b) => `${a.type} ${a.name}`.localeCompare(`${b.type} ${b.name}`));
  return { resources: sorted, manifests: manifestsOf(sorted), graph };
}

/** `kubernetes:apps/v1:Deployment` inputs → `apiVersion: apps/v1, kind: Deployment, …`. */
export function manifestsOf(resources: readonly RecordedResource[]): string {
  return resources
    .filter(
      (resource) =>
        resource.type.startsWith('kubernetes:') &&
        !resource.read &&
        !resource.type.startsWith('kubernetes:index') &&
        !resource.type.startsWith('kubernetes:helm.sh'),
    )
    .map((resource) => {
      const [, group, kind] = /^kubernetes:([^:]+):(.+)$/.exec(resource.type)!;
      const apiVersion = group!.startsWith('core/') ? group!.slice('core/'.length) : group!;
      const metadata = (resource.inputs['metadata'] ?? {}) as Record<string, unknown>;
      return stringify({ apiVersion, kind, ...resource.inputs, metadata: { name: resource.name, ...metadata } });
    })
    .join('---\n');
}
