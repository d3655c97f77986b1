import type * as k8s from '@pulumi/kubernetes';

type Container = k8s.types.input.core.v1.Container;
type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;

/** Pods run as the image's non-root user, with nothing extra. */
export function podSecurity(uid: number): PodSecurityContext {
  return { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } };
}

/** Containers: read-only root filesystem, no privilege escalation, no capabilities. */
export function hardened(container: Container, readOnlyRoot = true): Container {
  return { ...container, securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: readOnlyRoot, capabilities: { drop: ['ALL'] } } };
}

export function labels(component: string, instance?: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'xerotier', 'app.kubernetes.io/component': component, ...(instance ? { 'app.kubernetes.io/instance': instance } : {}) };
}

export function image(images: { registry: string; tag: string }, service: string): string {
  return `${images.registry}/${service}:${images.tag}`;
}

/**
 * Agents keep their keys and enrollment on a volume and each replica presents its own join key
 * (join keys are single-use): the pod's ordinal picks `join-<n>` from the mounted Secret.
 */
export function agentEntrypoint(binary: string, joinKeyEnv: string): string[] {
  return ['sh', '-c', `export ${joinKeyEnv}="$(cat /etc/xerotier/join/join-\${POD_NAME##*-} 2>/dev/null)"; exec ${binary} run`];
}
