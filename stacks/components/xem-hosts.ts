import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { xemAgentConfigSchema } from '../../services/xem-agent/config.js';
import { serviceEnv } from '../env.js';
import type { XemHost } from '../settings.js';
import { agentEntrypoint, hardened, image, labels, podSecurity } from './k8s-common.js';
import type { PlatformSecrets } from './secrets.js';

export interface XemHostsArgs {
  readonly namespace: pulumi.Input<string>;
  readonly images: { readonly registry: string; readonly tag: string };
  readonly routerUrl: pulumi.Input<string>;
  readonly hosts: readonly XemHost[];
  readonly secrets: PlatformSecrets;
}

const UID = 5153;
const READ_VERBS = ['get', 'list', 'watch'];

/**
 * XEM agents beside the infrastructure they operate, here inside the cluster: per host a
 * StatefulSet (stable, unique XEM_REGISTRATION_NAME per pod, keys, enrollment and outbox on a
 * persistent volume, one join key per pod), a service account whose RBAC is what the
 * `kubernetes` bundle may do (`read`: get/list/watch; `operate`: also cordon, drain, scale and
 * restart), and a credentials volume from a Secret the operator fills per workspace.
 */
export class XemHosts extends pulumi.ComponentResource {
  constructor(name: string, args: XemHostsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:XemHosts', name, {}, opts);
    for (const host of args.hosts) this.host(name, args, host);
    this.registerOutputs({});
  }

  static agentNames(hosts: readonly XemHost[]): string[] {
    return hosts.flatMap((host) => Array.from({ length: host.replicas }, (_, index) => `xem-${host.name}-${index}`));
  }

  private host(name: string, args: XemHostsArgs, host: XemHost): void {
    const child = { parent: this };
    const selector = labels('xem', host.name);
    const account = new k8s.core.v1.ServiceAccount(`${name}-${host.name}`, { metadata: { namespace: args.namespace, labels: selector }, automountServiceAccountToken: host.kubernetesAccess !== 'none' }, child);
    if (host.kubernetesAccess !== 'none') this.rbac(`${name}-${host.name}`, account, args.namespace, host.kubernetesAccess);
    const joinKeys = new k8s.core.v1.Secret(`${name}-${host.name}-join`, {
      metadata: { namespace: args.namespace, labels: selector },
      stringData: Object.fromEntries(Array.from({ length: host.replicas }, (_, index) => [`join-${index}`, args.secrets.joinKey('xem', `xem-${host.name}-${index}`).key])),
    }, child);
    // Filled by the operator (per workspace folders of credential files); created empty so pods start.
    const credentials = new k8s.core.v1.Secret(`${name}-${host.name}-credentials`, { metadata: { namespace: args.namespace, labels: selector, annotations: { 'pulumi.com/patchForce': 'true' } }, stringData: {} }, { ...child, ignoreChanges: ['stringData', 'data'] });
    const env = [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ...serviceEnv(xemAgentConfigSchema, {
        router_url: args.routerUrl, registration_name: '$(POD_NAME)', tools_dir: '/opt/xerotier/tools', credentials_dir: '/var/lib/xerotier/credentials',
        signing_key_path: '/var/lib/xerotier/state/agent-signing-key.hex', curve_key_path: '/var/lib/xerotier/state/agent-curve-key.hex', queue_db_path: '/var/lib/xerotier/state/queue.sqlite',
      }),
    ];
    new k8s.apps.v1.StatefulSet(`${name}-${host.name}`, {
      metadata: { namespace: args.namespace, labels: selector },
      spec: {
        serviceName: `xem-${host.name}`, replicas: host.replicas, selector: { matchLabels: selector }, podManagementPolicy: 'Parallel',
        template: {
          metadata: { labels: selector, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9095' } },
          spec: {
            serviceAccountName: account.metadata.name, securityContext: podSecurity(UID), terminationGracePeriodSeconds: 60,
            containers: [hardened({
              name: 'xem-agent', image: image(args.images, 'xem-agent'), command: agentEntrypoint('xerotier-xem-agent', 'XEM_JOIN_KEY'), env,
              ports: [{ name: 'metrics', containerPort: 9095 }], resources: { requests: { cpu: '100m', memory: '256Mi' } },
              volumeMounts: [
                { name: 'state', mountPath: '/var/lib/xerotier/state' }, { name: 'credentials', mountPath: '/var/lib/xerotier/credentials', readOnly: true },
                { name: 'join', mountPath: '/etc/xerotier/join', readOnly: true }, { name: 'tmp', mountPath: '/tmp' },
              ],
            })],
            volumes: [{ name: 'credentials', secret: { secretName: credentials.metadata.name } }, { name: 'join', secret: { secretName: joinKeys.metadata.name } }, { name: 'tmp', emptyDir: {} }],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: 'state' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
      },
    }, child);
  }

  private rbac(name: string, account: k8s.core.v1.ServiceAccount, namespace: pulumi.Input<string>, access: 'read' | 'operate'): void {
    const child = { parent: this };
    const rules: k8s.types.input.rbac.v1.PolicyRule[] = [
      { apiGroups: [''], resources: ['pods', 'pods/log', 'nodes', 'services', 'events', 'namespaces', 'configmaps'], verbs: READ_VERBS },
      { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'daemonsets', 'replicasets'], verbs: READ_VERBS },
      ...(access === 'operate' ? [
        { apiGroups: [''], resources: ['nodes'], verbs: ['patch'] },
        { apiGroups: [''], resources: ['pods/eviction'], verbs: ['create'] },
        { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'deployments/scale', 'statefulsets/scale'], verbs: ['patch', 'update'] },
      ] : []),
    ];
    const role = new k8s.rbac.v1.ClusterRole(name, { metadata: { labels: labels('xem') }, rules }, child);
    new k8s.rbac.v1.ClusterRoleBinding(name, {
      metadata: { labels: labels('xem') },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
      subjects: [{ kind: 'ServiceAccount', name: account.metadata.name, namespace }],
    }, child);
  }
}
