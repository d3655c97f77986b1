import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ximAgentConfigSchema } from '../../services/xim-agent/config.js';
import { serviceEnv } from '../env.js';
import type { XimModel } from '../settings.js';
import {
  agentEntrypoint,
  disruptionBudget,
  hardened,
  labels,
  podSecurity,
  serviceAccount,
  spread,
} from './k8s-common.js';
import { ModelCache } from './model-cache.js';
import type { PlatformSecrets } from './secrets.js';
import { startupBudgetSeconds } from '../rules/models.js';
import type { TracingSettings } from '../settings/types.js';
import { tracingEnv } from './tracing-env.js';
import {
  AGENT_DRAIN_SECONDS,
  engineContainer,
  podVolumes,
  SOCKET,
  SOCKET_DIR,
  XIM_TERMINATION_SECONDS,
  XIM_UID,
} from './xim-pod.js';

export interface XimFleetArgs {
  readonly namespace: pulumi.Input<string>;
  /** The xim-agent image: the agent, and vLLM itself (the image is vLLM's plus a user and the agent). */
  readonly image: string;
  readonly routerUrl: pulumi.Input<string>;
  /** Makes `mesh.<hostname>` the router's internal mesh Service inside these pods. */
  readonly meshAlias: pulumi.Input<k8s.types.input.core.v1.HostAlias>;
  readonly models: readonly XimModel[];
  readonly secrets: PlatformSecrets;
  /** ReadWriteMany class for one shared copy of each model's weights; absent, each pod downloads its own. @default per-pod */
  readonly sharedClassName?: string;
  /** ReadWriteOnce class for agent state and per-pod caches. @default the cluster's default class */
  readonly storageClassName?: string;
  /** The Hugging Face token (secret) for gated models. @default none */
  readonly huggingFaceToken?: pulumi.Input<string>;
  /** OTLP export for this component's processes (settings `monitoring.tracing`). @default none */
  readonly tracing?: TracingSettings;
}

/**
 * Per model, vLLM and the XIM agent side by side on the model's GPU nodes: vLLM serves on a Unix
 * socket in a volume both containers mount and the agent attaches to it. A StatefulSet, not a
 * Deployment: each replica keeps its agent identity (stable name, keys and enrollment on a
 * persistent volume, its own single-use join key). Probes gate readiness on vLLM's /health, so
 * a rollout moves one replica at a time only once the previous one serves; a PDB and spread keep
 * replicas apart; on termination the agent drains before vLLM stops.
 */
export class XimFleet extends pulumi.ComponentResource {
  readonly statefulSets: ReadonlyMap<string, k8s.apps.v1.StatefulSet>;

  constructor(name: string, args: XimFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:XimFleet', name, {}, opts);
    this.statefulSets = new Map(
      args.models.map((model) => [model.name, this.model(`${name}-${model.name}`, args, model)]),
    );
    this.registerOutputs({});
  }

  /** Agent registration names: the pods' names (`xim-<model>-<n>`), one join key each. */
  static agentNames(models: readonly Pick<XimModel, 'name' | 'replicas'>[]): string[] {
    return models.flatMap((model) =>
      Array.from({ length: model.replicas }, (_, index) => `xim-${model.name}-${index}`),
    );
  }

  private model(name: string, args: XimFleetArgs, model: XimModel): k8s.apps.v1.StatefulSet {
    const child = { parent: this };
    const selector = labels('xim', model.name);
    const metadata = { namespace: args.namespace, labels: selector };
    const salt = new k8s.core.v1.Secret(
      name,
      { metadata, stringData: { salt_secret: args.secrets.ximSaltSecret } },
      child,
    );
    const join = new k8s.core.v1.Secret(
      `${name}-join`,
      {
        metadata,
        stringData: Object.fromEntries(
          XimFleet.agentNames([model]).map((agent, index) => [`join-${index}`, args.secrets.joinKey('xim', agent).key]),
        ),
      },
      child,
    );
    const hfToken =
      model.gated && args.huggingFaceToken
        ? new k8s.core.v1.Secret(`${name}-hf`, { metadata, stringData: { HF_TOKEN: args.huggingFaceToken } }, child)
        : undefined;
    const cache = args.sharedClassName
      ? new ModelCache(
          `${name}-weights`,
          {
            namespace: args.namespace,
            model,
            image: args.image,
            sharedClassName: args.sharedClassName,
            ...(hfToken ? { hfTokenSecret: hfToken.metadata.name } : {}),
          },
          child,
        )
      : undefined;
    const account = serviceAccount(this, name, args.namespace, selector);
    const claims = (size: string) => ({
      accessModes: ['ReadWriteOnce'],
      ...(args.storageClassName ? { storageClassName: args.storageClassName } : {}),
      resources: { requests: { storage: size } },
    });
    disruptionBudget(this, name, args.namespace, selector);
    // Named, so pods are `xim-<model>-<n>`: the registration names their join keys were made for.
    return new k8s.apps.v1.StatefulSet(
      name,
      {
        metadata: { ...metadata, name },
        spec: {
          serviceName: name,
          replicas: model.replicas,
          selector: { matchLabels: selector },
          podManagementPolicy: 'Parallel',
          template: {
            metadata: {
              labels: selector,
              annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9094' },
            },
            spec: {
              serviceAccountName: account.metadata.name,
              automountServiceAccountToken: false,
              securityContext: podSecurity(XIM_UID),
              terminationGracePeriodSeconds: XIM_TERMINATION_SECONDS,
              hostAliases: [args.meshAlias],
              tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
              nodeSelector: { ...model.nodeSelector },
              topologySpreadConstraints: spread(selector),
              containers: [
                engineContainer({
                  image: args.image,
                  model,
                  prewarmed: Boolean(cache),
                  ...(hfToken ? { hfTokenSecret: hfToken.metadata.name } : {}),
                }),
                this.agentContainer(args, model, salt),
              ],
              volumes: [
                ...podVolumes(join.metadata.name),
                ...(cache ? [{ name: 'models', persistentVolumeClaim: { claimName: cache.claimName } }] : []),
              ],
            },
          },
          volumeClaimTemplates: [
            { metadata: { name: 'state' }, spec: claims('1Gi') },
            ...(cache ? [] : [{ metadata: { name: 'models' }, spec: claims(`${model.cacheSizeGi}Gi`) }]),
          ],
        },
      },
      {
        ...child,
        customTimeouts: rolloutTimeouts(model, Boolean(cache)),
        ...(cache ? { dependsOn: [cache.fill] } : {}),
      },
    );
  }

  private agentContainer(
    args: XimFleetArgs,
    model: XimModel,
    salt: k8s.core.v1.Secret,
  ): k8s.types.input.core.v1.Container {
    const env = [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ...serviceEnv(ximAgentConfigSchema, {
        router_url: args.routerUrl,
        registration_name: '$(POD_NAME)',
        engine_url: `unix://${SOCKET}`,
        vllm_socket_path: SOCKET,
        model: model.model,
        vllm_salt_secret: { secretName: salt.metadata.name, key: 'salt_secret' },
        max_concurrent: String(model.maxNumSeqs),
        shutdown_grace_seconds: String(AGENT_DRAIN_SECONDS),
        signing_key_path: '/var/lib/xerotier/agent-signing-key.hex',
        curve_key_path: '/var/lib/xerotier/agent-curve-key.hex',
        enrollment_path: '/var/lib/xerotier/enrollment.json',
      }),
      ...tracingEnv(args.tracing),
    ];
    return hardened({
      name: 'xim-agent',
      image: args.image,
      command: agentEntrypoint('xerotier-xim-agent', 'XEROTIER_AGENT_JOIN_KEY'),
      env,
      ports: [{ name: 'metrics', containerPort: 9094 }],
      resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } },
      livenessProbe: { httpGet: { path: '/metrics', port: 'metrics' }, periodSeconds: 20, failureThreshold: 3 },
      volumeMounts: [
        { name: 'socket', mountPath: SOCKET_DIR },
        { name: 'state', mountPath: '/var/lib/xerotier' },
        { name: 'join', mountPath: '/etc/xerotier/join', readOnly: true },
        { name: 'tmp', mountPath: '/tmp' },
      ],
    });
  }
}

/**
 * The provider waits for every replica to be ready; a replica may take its startup budget (the
 * probe's), and a rollout replaces them one at a time. Ten minutes, the default, is too short.
 */
export function rolloutTimeouts(model: XimModel, prewarmed: boolean): pulumi.CustomTimeouts {
  const minutes = `${Math.ceil((startupBudgetSeconds(model.weightsGi, prewarmed) * Math.max(1, model.replicas)) / 60) + 10}m`;
  return { create: minutes, update: minutes };
}
