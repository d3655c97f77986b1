import type * as k8s from '@pulumi/kubernetes';
import type { KubernetesAccess } from '../settings.js';

type Rule = k8s.types.input.rbac.v1.PolicyRule;

const READ = ['get', 'list', 'watch'];

/**
 * What the `kubernetes` bundle of an in-cluster XEM agent may do, as RBAC rules. Namespaced
 * rules go into a Role in each of the host's target namespaces (never the platform's own, the
 * settings refuse it); the only cluster-wide rules are reading nodes and namespaces, and for
 * `operate` cordoning nodes. Nothing reads Secrets or ConfigMaps (where credentials live), and
 * patching workloads is limited to `operateResources` when listed: an agent that runs
 * model-proposed tools cannot rewrite a Deployment to mount another's Secrets.
 */
export function namespacedRules(
  access: Exclude<KubernetesAccess, 'none'>,
  operateResources: readonly string[],
): Rule[] {
  const read: Rule[] = [
    {
      apiGroups: [''],
      resources: ['pods', 'pods/log', 'services', 'endpoints', 'events', 'persistentvolumeclaims'],
      verbs: READ,
    },
    { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], verbs: READ },
    { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: READ },
  ];
  if (access === 'read') return read;
  const names = operateResources.length > 0 ? { resourceNames: [...operateResources] } : {};
  return [
    ...read,
    {
      apiGroups: ['apps'],
      resources: ['deployments', 'statefulsets', 'deployments/scale', 'statefulsets/scale'],
      verbs: ['patch', 'update'],
      ...names,
    },
    { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
  ];
}

export function clusterRules(access: Exclude<KubernetesAccess, 'none'>): Rule[] {
  return [
    { apiGroups: [''], resources: ['nodes', 'namespaces'], verbs: READ },
    ...(access === 'operate' ? [{ apiGroups: [''], resources: ['nodes'], verbs: ['patch'] }] : []),
  ];
}
