import { createHash } from 'node:crypto';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { xemAgentConfigSchema } from '../../services/xem-agent/config.js';
import { serviceEnv } from '../env.js';
import type { TracingSettings } from '../settings/types.js';
import { tracingEnv } from './tracing-env.js';
import type { XemHost } from '../settings.js';
import { agentEntrypoint, disruptionBudget, hardened, labels, podSecurity, serviceAccount } from './k8s-common.js';
import type { PlatformSecrets } from './secrets.js';
import { clusterRules, namespacedRules } from './xem-rbac.js';

export interface XemHostsArgs {
  readonly namespace: pulumi.Input<string>;
  readonly image: string;
  readonly routerUrl: pulumi.Input<string>;
  /** Makes `mesh.<hostname>` the router's internal mesh Service inside these pods. */
  readonly meshAlias: pulumi.Input<k8s.types.input.core.v1.HostAlias>;
  readonly hosts: readonly XemHost[];
  readonly secrets: PlatformSecrets;
  /** ReadWriteOnce class for agent state. @default the cluster's default class */
  readonly storageClassName?: string;
  /** OTLP export for this component's processes (settings `monitoring.tracing`). @default none */
  readonly tracing?: TracingSettings;
}

const UID = 5153;
const CREDENTIALS = '/var/lib/xerotier/credentials';

/**
 * XEM agents beside the infrastructure they operate, here inside the cluster: per host a
 * StatefulSet (stable, unique XEM_REGISTRATION_NAME per pod; keys, enrollment and outbox on a
 * persistent volume; one join key per pod), a service account whose token is mounted only when
 * it has Kubernetes access and whose Roles cover only its target namespaces (xem-rbac.ts), and
 * one credentials Secret per workspace it serves, mounted as `credentials/<workspace>/` — the
 * layout the agent resolves `credentials_ref` in. The stack creates those Secrets empty; the
 * operator (or External Secrets) fills them, and the stack never overwrites what they hold.
 */
export class XemHosts extends pulumi.ComponentResource {
  constructor(name: string, args: XemHostsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:XemHosts', name, {}, opts);
    for (const host of args.hosts) this.host(`${name}-${host.name}`, args, host);
    this.registerOutputs({});
  }

  static agentNames(hosts: readonly Pick<XemHost, 'name' | 'replicas'>[]): string[] {
    return hosts.flatMap((host) => Array.from({ length: host.replicas }, (_, index) => `xem-${host.name}-${index}`));
  }

  /** The Secret a workspace's credentials go in (named so operators can fill it: `kubectl -n … get secret -l xerotier.io/workspace=<id>`). */
  static credentialsSecretName(host: string, workspace: string): string {
    return `xem-${host}-credentials-${createHash('sha256').update(workspace).digest('hex').slice(0, 10)}`;
  }

  private host(name: string, args: XemHostsArgs, host: XemHost): void {
    const child = { parent: this };
    const selector = labels('xem', host.name);
    const account = serviceAccount(this, name, args.namespace, selector, host.kubernetesAccess !== 'none');
    if (host.kubernetesAccess !== 'none') this.rbac(name, account, args.namespace, host);
    const joinKeys = new k8s.core.v1.Secret(
      `${name}-join`,
      {
        metadata: { namespace: args.namespace, labels: selector },
        stringData: Object.fromEntries(
          XemHosts.agentNames([host]).map((agent, index) => [`join-${index}`, args.secrets.joinKey('xem', agent).key]),
        ),
      },
      child,
    );
    const credentials = host.workspaces.map((workspace) => ({
      workspace,
      secret: this.credentialsSecret(args.namespace, host, workspace, selector),
    }));
    disruptionBudget(this, name, args.namespace, selector);
    const env = [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ...serviceEnv(xemAgentConfigSchema, {
        router_url: args.routerUrl,
        registration_name: '$(POD_NAME)',
        tools_dir: '/opt/xerotier/tools',
        credentials_dir: CREDENTIALS,
        signing_key_path: '/var/lib/xerotier/state/agent-signing-key.hex',
        curve_key_path: '/var/lib/xerotier/state/agent-curve-key.hex',
        queue_db_path: '/var/lib/xerotier/state/queue.sqlite',
      }),
      ...tracingEnv(args.tracing),
    ];
    new k8s.apps.v1.StatefulSet(
      name,
      {
        metadata: { namespace: args.namespace, labels: selector, name },
        spec: {
          serviceName: name,
          replicas: host.replicas,
          selector: { matchLabels: selector },
          podManagementPolicy: 'Parallel',
          template: {
            metadata: {
              labels: selector,
              annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9095' },
            },
            spec: {
              serviceAccountName: account.metadata.name,
              automountServiceAccountToken: host.kubernetesAccess !== 'none',
              securityContext: podSecurity(UID),
              terminationGracePeriodSeconds: 60,
              hostAliases: [args.meshAlias],
              containers: [
                hardened({
                  name: 'xem-agent',
                  image: args.image,
                  command: agentEntrypoint('xerotier-xem-agent', 'XEM_JOIN_KEY'),
                  env,
                  ports: [{ name: 'metrics', containerPort: 9095 }],
                  resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
                  livenessProbe: {
                    httpGet: { path: '/metrics', port: 'metrics' },
                    periodSeconds: 20,
                    failureThreshold: 3,
                  },
                  volumeMounts: [
                    { name: 'state', mountPath: '/var/lib/xerotier/state' },
                    { name: 'join', mountPath: '/etc/xerotier/join', readOnly: true },
                    { name: 'tmp', mountPath: '/tmp' },
                    ...credentials.map(({ workspace }, index) => ({
                      name: `credentials-${index}`,
                      mountPath: `${CREDENTIALS}/${workspace}`,
                      readOnly: true,
                    })),
                  ],
                }),
              ],
              volumes: [
                { name: 'join', secret: { secretName: joinKeys.metadata.name } },
                { name: 'tmp', emptyDir: {} },
                ...credentials.map(({ secret }, index) => ({
                  name: `credentials-${index}`,
                  secret: { secretName: secret.metadata.name },
                })),
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'state' },
              spec: {
                accessModes: ['ReadWriteOnce'],
                ...(args.storageClassName ? { storageClassName: args.storageClassName } : {}),
                resources: { requests: { storage: '1Gi' } },
              },
            },
          ],
        },
      },
      child,
    );
  }

  /** Created empty so pods start; filled by the operator, whose data the stack never replaces. */
  private credentialsSecret(
    namespace: pulumi.Input<string>,
    host: XemHost,
    workspace: string,
    selector: Record<string, string>,
  ): k8s.core.v1.Secret {
    const secretName = XemHosts.credentialsSecretName(host.name, workspace);
    return new k8s.core.v1.Secret(
      secretName,
      {
        metadata: {
          name: secretName,
          namespace,
          labels: { ...selector, 'xerotier.io/workspace': workspace },
          annotations: { 'pulumi.com/patchForce': 'true' },
        },
        stringData: {},
      },
      { parent: this, ignoreChanges: ['stringData', 'data'] },
    );
  }

  private rbac(
    name: string,
    account: k8s.core.v1.ServiceAccount,
    namespace: pulumi.Input<string>,
    host: XemHost,
  ): void {
    const access = host.kubernetesAccess as 'read' | 'operate';
    const child = { parent: this };
    const subjects = [{ kind: 'ServiceAccount', name: account.metadata.name, namespace }];
    const cluster = new k8s.rbac.v1.ClusterRole(
      name,
      { metadata: { labels: labels('xem', host.name) }, rules: clusterRules(access) },
      child,
    );
    new k8s.rbac.v1.ClusterRoleBinding(
      name,
      {
        metadata: { labels: labels('xem', host.name) },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: cluster.metadata.name },
        subjects,
      },
      child,
    );
    for (const target of host.targetNamespaces) {
      const role = new k8s.rbac.v1.Role(
        `${name}-${target}`,
        {
          metadata: { namespace: target, labels: labels('xem', host.name) },
          rules: namespacedRules(access, host.operateResources),
        },
        child,
      );
      new k8s.rbac.v1.RoleBinding(
        `${name}-${target}`,
        {
          metadata: { namespace: target, labels: labels('xem', host.name) },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name },
          subjects,
        },
        child,
      );
    }
  }
}
