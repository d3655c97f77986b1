import { createHash } from 'node:crypto';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { imageRef } from '../rules/platform.js';

type Container = k8s.types.input.core.v1.Container;
type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;
type Spread = k8s.types.input.core.v1.TopologySpreadConstraint;

/** Pods run as the image's non-root user, with nothing extra. */
export function podSecurity(uid: number): PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Containers: read-only root filesystem, no privilege escalation, no capabilities. */
export function hardened(container: Container, readOnlyRoot = true): Container {
  return {
    ...container,
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: readOnlyRoot,
      capabilities: { drop: ['ALL'] },
    },
  };
}

export function labels(component: string, instance?: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'xerotier',
    'app.kubernetes.io/component': component,
    ...(instance ? { 'app.kubernetes.io/instance': instance } : {}),
  };
}

/** One of our images, by the immutable tag or digest the settings insist on. */
export function image(images: { registry: string; tag: string }, service: string): string {
  return imageRef(images.registry, service, images.tag);
}

/**
 * Agents keep their keys and enrollment on a volume and each replica presents its own join key
 * (join keys are single-use): the pod's ordinal picks `join-<n>` from the mounted Secret.
 */
export function agentEntrypoint(binary: string, joinKeyEnv: string): string[] {
  return [
    'sh',
    '-c',
    `export ${joinKeyEnv}="$(cat /etc/xerotier/join/join-\${POD_NAME##*-} 2>/dev/null)"; exec ${binary} run`,
  ];
}

/**
 * A service account of its own per workload, so RBAC never lands on `default`; its token is
 * mounted only where the workload calls the Kubernetes API.
 */
export function serviceAccount(
  parent: pulumi.Resource,
  name: string,
  namespace: pulumi.Input<string>,
  selector: Record<string, string>,
  apiAccess = false,
): k8s.core.v1.ServiceAccount {
  return new k8s.core.v1.ServiceAccount(
    name,
    { metadata: { namespace, labels: selector }, automountServiceAccountToken: apiAccess },
    { parent },
  );
}

/** Replicas spread over nodes and zones when they can be (soft: a small cluster still schedules). */
export function spread(selector: Record<string, string>): Spread[] {
  return ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'].map((topologyKey) => ({
    maxSkew: 1,
    topologyKey,
    whenUnsatisfiable: 'ScheduleAnyway',
    labelSelector: { matchLabels: selector },
  }));
}

/** Keeps a terminating container serving while endpoints and load balancers stop sending to it. */
export function preStopSleep(seconds: number): k8s.types.input.core.v1.Lifecycle {
  return { preStop: { sleep: { seconds } } };
}

/** A disruption budget that lets one replica go at a time, and never blocks a drain of a single replica. */
export function disruptionBudget(
  parent: pulumi.Resource,
  name: string,
  namespace: pulumi.Input<string>,
  selector: Record<string, string>,
): k8s.policy.v1.PodDisruptionBudget {
  return new k8s.policy.v1.PodDisruptionBudget(
    name,
    { metadata: { namespace, labels: selector }, spec: { selector: { matchLabels: selector }, maxUnavailable: 1 } },
    { parent },
  );
}

/** A digest of a Secret's data: random keys hashed reveal nothing, and a change rolls the pods that read them. */
export function checksum(data: Record<string, pulumi.Input<string>>): pulumi.Output<string> {
  const entries = Object.entries(data).sort(([a], [b]) => a.localeCompare(b));
  return pulumi.unsecret(
    pulumi
      .all(entries.map(([key, value]) => pulumi.output(value).apply((text) => `${key}=${text}`)))
      .apply((lines) => createHash('sha256').update(lines.join('\n')).digest('hex')),
  );
}
