import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ximAgentConfigSchema } from '../../services/xim-agent/config.js';
import { vllmArgs } from '../../services/xim-agent/engine/vllm-command.js';
import { serviceEnv } from '../env.js';
import type { XimModel } from '../settings.js';
import { agentEntrypoint, hardened, image, labels, podSecurity } from './k8s-common.js';
import type { PlatformSecrets } from './secrets.js';

export interface XimFleetArgs {
  readonly namespace: pulumi.Input<string>;
  readonly images: { readonly registry: string; readonly tag: string; readonly vllm: string };
  readonly routerUrl: pulumi.Input<string>;
  readonly models: readonly XimModel[];
  readonly secrets: PlatformSecrets;
}

const SOCKET_DIR = '/run/xerotier';
const SOCKET = `${SOCKET_DIR}/engine.sock`;
const UID = 5152;

/**
 * Per model, vLLM and the XIM agent side by side on GPU nodes: vLLM serves the model on a Unix
 * socket in a volume both containers mount, the agent attaches to it
 * (XEROTIER_AGENT_ENGINE_URL). Pods tolerate the GPU taint and request the model's GPUs; the
 * model cache is a volume per pod. A StatefulSet, not a Deployment: each replica keeps its own
 * agent identity (stable name, keys and enrollment on a persistent volume, its own single-use
 * join key), so a restarted pod comes back as the same agent.
 */
export class XimFleet extends pulumi.ComponentResource {
  readonly statefulSets: ReadonlyMap<string, k8s.apps.v1.StatefulSet>;

  constructor(name: string, args: XimFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:XimFleet', name, {}, opts);
    this.statefulSets = new Map(args.models.map((model) => [model.name, this.model(name, args, model)]));
    this.registerOutputs({});
  }

  /** Agent registration names: the pods' names (`xim-<model>-<n>`), one join key each. */
  static agentNames(models: readonly XimModel[]): string[] {
    return models.flatMap((model) => Array.from({ length: model.replicas }, (_, index) => `xim-${model.name}-${index}`));
  }

  private model(name: string, args: XimFleetArgs, model: XimModel): k8s.apps.v1.StatefulSet {
    const child = { parent: this };
    const selector = labels('xim', model.name);
    const secret = new k8s.core.v1.Secret(`${name}-${model.name}`, {
      metadata: { namespace: args.namespace, labels: selector },
      stringData: {
        salt_secret: args.secrets.ximSaltSecret,
        ...Object.fromEntries(Array.from({ length: model.replicas }, (_, index) => [`join-${index}`, args.secrets.joinKey('xim', `xim-${model.name}-${index}`).key])),
      },
    }, child);
    const env = [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ...serviceEnv(ximAgentConfigSchema, {
        router_url: args.routerUrl, registration_name: '$(POD_NAME)', engine_url: `unix://${SOCKET}`, vllm_socket_path: SOCKET, model: model.model,
        vllm_salt_secret: { secretName: secret.metadata.name, key: 'salt_secret' }, max_concurrent: String(model.maxNumSeqs ?? 64),
        signing_key_path: '/var/lib/xerotier/agent-signing-key.hex', curve_key_path: '/var/lib/xerotier/agent-curve-key.hex', enrollment_path: '/var/lib/xerotier/enrollment.json',
      }),
    ];
    const engineArgs = vllmArgs({ model: model.model, socketPath: SOCKET, tensorParallelSize: model.gpus, ...(model.maxNumSeqs ? { maxNumSeqs: model.maxNumSeqs } : {}), extraArgs: model.vllmArgs ?? [] });
    return new k8s.apps.v1.StatefulSet(`${name}-${model.name}`, {
      metadata: { namespace: args.namespace, labels: selector },
      spec: {
        serviceName: `xim-${model.name}`, replicas: model.replicas, selector: { matchLabels: selector }, podManagementPolicy: 'Parallel',
        template: {
          metadata: { labels: selector, annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9094' } },
          spec: {
            securityContext: podSecurity(UID),
            tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
            nodeSelector: { 'xerotier.io/pool': 'gpu' },
            containers: [
              hardened({
                name: 'vllm', image: args.images.vllm, command: ['vllm'], args: engineArgs, env: [{ name: 'HF_HOME', value: '/models' }],
                resources: { limits: { 'nvidia.com/gpu': String(model.gpus) }, requests: { 'nvidia.com/gpu': String(model.gpus), cpu: '2', memory: '16Gi' } },
                volumeMounts: [{ name: 'socket', mountPath: SOCKET_DIR }, { name: 'models', mountPath: '/models' }, { name: 'shm', mountPath: '/dev/shm' }, { name: 'tmp', mountPath: '/tmp' }],
              }, false),
              hardened({
                name: 'xim-agent', image: image(args.images, 'xim-agent'), command: agentEntrypoint('xerotier-xim-agent', 'XEROTIER_AGENT_JOIN_KEY'), env,
                ports: [{ name: 'metrics', containerPort: 9094 }], resources: { requests: { cpu: '250m', memory: '256Mi' } },
                volumeMounts: [{ name: 'socket', mountPath: SOCKET_DIR }, { name: 'state', mountPath: '/var/lib/xerotier' }, { name: 'join', mountPath: '/etc/xerotier/join', readOnly: true }],
              }),
            ],
            volumes: [
              { name: 'socket', emptyDir: {} }, { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '8Gi' } }, { name: 'tmp', emptyDir: {} },
              { name: 'join', secret: { secretName: secret.metadata.name, items: Array.from({ length: model.replicas }, (_, index) => ({ key: `join-${index}`, path: `join-${index}` })) } },
            ],
          },
        },
        volumeClaimTemplates: [
          { metadata: { name: 'state' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
          { metadata: { name: 'models' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: `${model.cacheSizeGi}Gi` } } } },
        ],
      },
    }, child);
  }
}
