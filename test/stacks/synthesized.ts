import { vi } from 'vitest';
import type { RecordedResource } from '../../stacks/offline/mocks.js';
import type { RecordedOptions } from '../../stacks/offline/resource-graph.js';
import { synthesize, type Synthesis } from '../../stacks/offline/synth.js';

/** Accessors over one synthesized stack, for the property tests that apply each rule to every stack file. */
export type Container = {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: unknown; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
  };
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
};
export type Probe = {
  exec?: { command: string[] };
  httpGet?: { path: string };
  periodSeconds?: number;
  failureThreshold?: number;
};
export type PodSpec = {
  containers: Container[];
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsUser?: number; runAsNonRoot?: boolean };
  tolerations?: { key: string }[];
  nodeSelector?: Record<string, string>;
  topologySpreadConstraints?: { topologyKey: string }[];
  hostAliases?: { ip: string; hostnames: string[] }[];
  terminationGracePeriodSeconds?: number;
  volumes?: {
    name: string;
    secret?: { secretName: string; items?: unknown[] };
    persistentVolumeClaim?: { claimName: string };
    emptyDir?: unknown;
  }[];
};
export type Workload = RecordedResource & {
  spec: {
    replicas?: number;
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string }; spec: { storageClassName?: string } }[];
  };
};

export class Synthesized {
  constructor(readonly synthesis: Synthesis) {}

  static async of(stack: string): Promise<Synthesized> {
    vi.resetModules();
    return new Synthesized(await synthesize(stack, '../index.js'));
  }

  get resources(): readonly RecordedResource[] {
    return this.synthesis.resources.filter((resource) => !resource.read);
  }

  ofType(type: string): RecordedResource[] {
    return this.resources.filter((resource) => resource.type === type);
  }

  one(type: string, name?: string): RecordedResource {
    const found = this.ofType(type).filter((resource) => name === undefined || resource.name === name);
    if (found.length !== 1) throw new Error(`expected one ${type}${name ? ` ${name}` : ''}, found ${found.length}`);
    return found[0]!;
  }

  /** Deployments, StatefulSets, DaemonSets and Jobs with their pod specs. */
  workloads(): Workload[] {
    return ['apps/v1:Deployment', 'apps/v1:StatefulSet', 'apps/v1:DaemonSet', 'batch/v1:Job']
      .flatMap((kind) => this.ofType(`kubernetes:${kind}`))
      .map((resource) => Object.assign(resource, { spec: resource.inputs['spec'] as Workload['spec'] }));
  }

  component(name: string): Workload[] {
    return this.workloads().filter(
      (workload) => workload.spec.template.metadata?.labels?.['app.kubernetes.io/component'] === name,
    );
  }

  options(type: string, name: string): RecordedOptions {
    const found = this.synthesis.graph.get(type, name);
    if (!found) throw new Error(`no options recorded for ${type} ${name}`);
    return found;
  }

  /** Whether resource a is only created once b (all of it, if a component) is. */
  waitsFor(a: { type: string; name: string }, b: { type: string; name: string }): boolean {
    return this.synthesis.graph.waitsFor(this.options(a.type, a.name), this.options(b.type, b.name));
  }
}
