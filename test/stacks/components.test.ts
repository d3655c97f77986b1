import { createHash } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { curveKeyPair } from 'zeromq';
import { curvePublicFromSecret } from '../../services/protocol/curve-keys.js';
import { platformMocks, valueOf, type RecordedResource } from '../../stacks/offline/mocks.js';
// Types only: the modules themselves are imported after the mocks are set.
import type { PlatformSecrets as PlatformSecretsType } from '../../stacks/components/secrets.js';
import type { XemHosts as XemHostsType } from '../../stacks/components/xem-hosts.js';
import type { XimFleet as XimFleetType } from '../../stacks/components/xim-fleet.js';
import type { ControlPlane as ControlPlaneType } from '../../stacks/components/control-plane.js';
import { ResourceGraph } from '../../stacks/offline/resource-graph.js';
import type { XemHost, XimModel } from '../../stacks/settings.js';

// Components are built directly, under mocks set before they are imported.
let resources: RecordedResource[];
let components: {
  PlatformSecrets: typeof PlatformSecretsType;
  XimFleet: typeof XimFleetType;
  XemHosts: typeof XemHostsType;
  ControlPlane: typeof ControlPlaneType;
};

beforeAll(async () => {
  const recorded = platformMocks();
  resources = recorded.resources;
  await pulumi.runtime.setMocks(recorded.mocks, 'xerotier', 'components', false);
  components = {
    PlatformSecrets: (await import('../../stacks/components/secrets.js')).PlatformSecrets,
    XimFleet: (await import('../../stacks/components/xim-fleet.js')).XimFleet,
    XemHosts: (await import('../../stacks/components/xem-hosts.js')).XemHosts,
    ControlPlane: (await import('../../stacks/components/control-plane.js')).ControlPlane,
  };
});

describe('PlatformSecrets', () => {
  it("derives the router's CURVE public key as the services (and libzmq) do, secret key secret, public key not", async () => {
    const secrets = new components.PlatformSecrets('s1', { bootstrapProject: 'acme', agents: [] });
    const secretKey = await valueOf(secrets.routerCurveSecretKey);
    expect(secretKey).toHaveLength(40);
    expect(await valueOf(secrets.routerCurvePublicKey)).toBe(curvePublicFromSecret(secretKey));
    const reference = curveKeyPair();
    expect(curvePublicFromSecret(reference.secretKey)).toBe(reference.publicKey);
    expect(await pulumi.isSecret(secrets.routerCurveSecretKey)).toBe(true);
    expect(await pulumi.isSecret(secrets.routerCurvePublicKey)).toBe(false);
    for (const output of [
      secrets.tokenSigningKey,
      secrets.completionEncryptionKey,
      secrets.adminApiKey,
      secrets.adminApiKeySha256,
      secrets.ximSaltSecret,
      secrets.databasePassword,
      secrets.databaseAppPassword,
      secrets.cachePassword,
    ]) {
      expect(await pulumi.isSecret(output)).toBe(true);
    }
  });

  it('gives each agent its own join key and the router only role:name:sha256 of it; the admin key only as a hash', async () => {
    const secrets = new components.PlatformSecrets('s2', {
      bootstrapProject: 'acme',
      agents: [
        { role: 'xem', name: 'xem-ops-0' },
        { role: 'xim', name: 'xim-llama-0' },
      ],
    });
    const xem = secrets.joinKey('xem', 'xem-ops-0');
    const key = await valueOf(xem.key);
    expect(key).toMatch(/^xjk_[A-Za-z0-9_-]{43}$/);
    expect(await valueOf(xem.routerEntry)).toBe(
      `xem:xem-ops-0:${createHash('sha256').update(key.slice(4)).digest('hex')}`,
    );
    const entries = await valueOf(secrets.routerJoinKeyEntries);
    expect(entries.split(' ')).toHaveLength(2);
    expect(entries).not.toContain(key.slice(4));
    expect(await valueOf(secrets.joinKey('xim', 'xim-llama-0').key)).not.toBe(key);
    expect(await pulumi.isSecret(xem.key)).toBe(true);
    const admin = await valueOf(secrets.adminApiKey);
    expect(admin).toMatch(/^xero_acme_[A-Za-z0-9_-]{43}$/);
    expect(await valueOf(secrets.adminApiKeySha256)).toBe(
      createHash('sha256').update(admin.slice('xero_acme_'.length)).digest('hex'),
    );
    expect(() => secrets.joinKey('xem', 'unknown')).toThrow(/no join key/);
  });
});

type PodSpec = {
  containers: {
    name: string;
    image: string;
    resources?: { limits?: Record<string, string> };
    env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
    volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  }[];
  tolerations?: { key: string; effect: string }[];
  serviceAccountName?: string;
  volumes?: { name: string; secret?: { secretName: string } }[];
};
const recorded = (type: string, name: string) =>
  resources.find((resource) => resource.type === type && resource.name === name);
const statefulSet = (name: string) =>
  recorded('kubernetes:apps/v1:StatefulSet', name)!.inputs as {
    spec: { replicas: number; template: { spec: PodSpec } };
  };
const rulesOf = (type: string, name: string) =>
  (recorded(type, name)?.inputs['rules'] ?? []) as { resources: string[]; verbs: string[]; resourceNames?: string[] }[];
const alias = { ip: '10.100.0.1', hostnames: ['mesh.x.example.com'] };

/** Registrations reach the mocks asynchronously, with no event when done: polled until these have. */
async function registered(...wanted: [type: string, name: string][]): Promise<void> {
  for (let tries = 0; tries < 200 && !wanted.every(([type, name]) => recorded(type, name)); tries += 1)
    await new Promise((resolve) => setTimeout(resolve, 10));
}

const model = (extra: Partial<XimModel> = {}): XimModel => ({
  name: 'llama',
  model: 'meta/llama',
  replicas: 2,
  gpus: 4,
  maxNumSeqs: 64,
  maxModelLen: 8192,
  vllmArgs: [],
  weightsGi: 40,
  cacheSizeGi: 50,
  gated: false,
  nodeSelector: { 'xerotier.io/pool': 'gpu' },
  resources: { cpu: '8', memory: '64Gi' },
  ...extra,
});
const host = (extra: Partial<XemHost> & Pick<XemHost, 'name'>): XemHost => ({
  replicas: 1,
  kubernetesAccess: 'none',
  targetNamespaces: [],
  operateResources: [],
  workspaces: [],
  ...extra,
});

describe('XimFleet and XemHosts', () => {
  it("puts XIM pods on GPU nodes: they tolerate the taint, request the GPUs, and the agent attaches to vLLM's socket", async () => {
    const secrets = new components.PlatformSecrets('s3', {
      bootstrapProject: 'acme',
      agents: components.XimFleet.agentNames([model()]).map((name) => ({ role: 'xim' as const, name })),
    });
    new components.XimFleet('xim', {
      namespace: 'x',
      image: 'r/xim-agent:0123abc',
      routerUrl: 'https://router',
      meshAlias: alias,
      secrets,
      models: [model()],
    });
    await registered(['kubernetes:apps/v1:StatefulSet', 'xim-llama']);
    const spec = statefulSet('xim-llama').spec;
    expect(spec.replicas).toBe(2);
    expect(spec.template.spec.tolerations).toContainEqual(
      expect.objectContaining({ key: 'nvidia.com/gpu', effect: 'NoSchedule' }),
    );
    const vllm = spec.template.spec.containers.find((container) => container.name === 'vllm')!;
    expect(vllm.resources!.limits!['nvidia.com/gpu']).toBe('4');
    const agent = spec.template.spec.containers.find((container) => container.name === 'xim-agent')!;
    expect(agent.env).toContainEqual({ name: 'XEROTIER_AGENT_ENGINE_URL', value: 'unix:///run/xerotier/engine.sock' });
    expect(agent.env).toContainEqual({ name: 'XEROTIER_AGENT_VLLM_SOCKET_PATH', value: '/run/xerotier/engine.sock' });
    // Without a shared cache each pod downloads, online; no HF_TOKEN for an ungated model.
    expect(vllm.env?.map((variable) => variable.name)).not.toContain('HF_HUB_OFFLINE');
    expect(vllm.env?.map((variable) => variable.name)).not.toContain('HF_TOKEN');
  });

  it('gives a gated model HF_TOKEN from its own Secret, and a shared cache filled once before the fleet loads offline', async () => {
    const gated = model({ name: 'gated', model: 'meta-llama/Llama-3.1-8B-Instruct', gated: true, replicas: 1 });
    const secrets = new components.PlatformSecrets('s5', {
      bootstrapProject: 'acme',
      agents: components.XimFleet.agentNames([gated]).map((name) => ({ role: 'xim' as const, name })),
    });
    new components.XimFleet('xim', {
      namespace: 'x',
      image: 'r/xim-agent:0123abc',
      routerUrl: 'https://router',
      meshAlias: alias,
      secrets,
      models: [gated],
      sharedClassName: 'efs',
      huggingFaceToken: pulumi.secret('hf_test'),
    });
    await registered(
      ['kubernetes:apps/v1:StatefulSet', 'xim-gated'],
      ['kubernetes:core/v1:Secret', 'xim-gated-hf'],
      ['kubernetes:core/v1:PersistentVolumeClaim', 'xim-gated-weights'],
    );
    const vllm = statefulSet('xim-gated').spec.template.spec.containers.find((container) => container.name === 'vllm')!;
    expect(vllm.env?.find((variable) => variable.name === 'HF_TOKEN')?.valueFrom?.secretKeyRef).toEqual({
      name: 'xim-gated-hf',
      key: 'HF_TOKEN',
    });
    expect(vllm.env).toContainEqual({ name: 'HF_HUB_OFFLINE', value: '1' });
    expect(recorded('kubernetes:core/v1:Secret', 'xim-gated-hf')!.revealed['stringData']).toEqual({
      HF_TOKEN: 'hf_test',
    });
    const claim = recorded('kubernetes:core/v1:PersistentVolumeClaim', 'xim-gated-weights')!.inputs as {
      spec: { accessModes: string[]; storageClassName: string };
    };
    expect(claim.spec).toMatchObject({ accessModes: ['ReadWriteMany'], storageClassName: 'efs' });
    const fill = resources.find(
      (resource) => resource.type === 'kubernetes:batch/v1:Job' && resource.name.startsWith('xim-gated-weights-'),
    )!.inputs as { spec: { template: { spec: PodSpec } } };
    expect(fill.spec.template.spec.containers[0]!.env).toContainEqual({
      name: 'MODEL',
      value: 'meta-llama/Llama-3.1-8B-Instruct',
    });
  });

  it('gives XEM hosts namespaced RBAC by their access (read never writes; operate only the listed workloads), cluster-wide only nodes', async () => {
    const hosts = [
      host({ name: 'reader', kubernetesAccess: 'read', targetNamespaces: ['apps'] }),
      host({
        name: 'operator',
        replicas: 2,
        kubernetesAccess: 'operate',
        targetNamespaces: ['apps', 'batch'],
        operateResources: ['web'],
      }),
      host({ name: 'plain' }),
    ];
    const secrets = new components.PlatformSecrets('s4', {
      bootstrapProject: 'acme',
      agents: components.XemHosts.agentNames(hosts).map((name) => ({ role: 'xem' as const, name })),
    });
    new components.XemHosts('xem', {
      namespace: 'x',
      image: 'r/xem-agent:0123abc',
      routerUrl: 'https://router',
      meshAlias: alias,
      secrets,
      hosts,
    });
    const role = 'kubernetes:rbac.authorization.k8s.io/v1:Role';
    await registered(
      [role, 'xem-reader-apps'],
      [role, 'xem-operator-apps'],
      [role, 'xem-operator-batch'],
      ['kubernetes:rbac.authorization.k8s.io/v1:ClusterRole', 'xem-operator'],
      ['kubernetes:apps/v1:StatefulSet', 'xem-operator'],
    );
    expect(new Set(rulesOf(role, 'xem-reader-apps').flatMap((rule) => rule.verbs))).toEqual(
      new Set(['get', 'list', 'watch']),
    );
    const patch = rulesOf(role, 'xem-operator-batch').find((rule) => rule.verbs.includes('patch'))!;
    expect(patch.resourceNames).toEqual(['web']);
    expect(rulesOf('kubernetes:rbac.authorization.k8s.io/v1:ClusterRole', 'xem-operator')).toEqual([
      { apiGroups: [''], resources: ['nodes', 'namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['patch'] },
    ]);
    expect(recorded('kubernetes:rbac.authorization.k8s.io/v1:ClusterRole', 'xem-plain')).toBeUndefined();
    expect((recorded(role, 'xem-operator-batch')!.inputs['metadata'] as { namespace: string }).namespace).toBe('batch');
    expect(components.XemHosts.agentNames(hosts)).toEqual([
      'xem-reader-0',
      'xem-operator-0',
      'xem-operator-1',
      'xem-plain-0',
    ]);
    expect(statefulSet('xem-operator').spec.replicas).toBe(2);
  });

  it('mounts one credentials Secret per workspace as credentials/<workspace>/, the layout the agent resolves credentials_ref in', async () => {
    const hosts = [host({ name: 'ops', workspaces: ['ws_01ABC', 'ws_02DEF'] })];
    const secrets = new components.PlatformSecrets('s6', {
      bootstrapProject: 'acme',
      agents: components.XemHosts.agentNames(hosts).map((name) => ({ role: 'xem' as const, name })),
    });
    new components.XemHosts('xem', {
      namespace: 'x',
      image: 'r/xem-agent:0123abc',
      routerUrl: 'https://router',
      meshAlias: alias,
      secrets,
      hosts,
    });
    await registered(['kubernetes:apps/v1:StatefulSet', 'xem-ops']);
    const pod = statefulSet('xem-ops').spec.template.spec;
    const agent = pod.containers[0]!;
    const credentialsDir = agent.env!.find((variable) => variable.name === 'XEM_CREDENTIALS_DIR')!.value!;
    for (const workspace of ['ws_01ABC', 'ws_02DEF']) {
      const mount = agent.volumeMounts!.find((candidate) => candidate.mountPath === `${credentialsDir}/${workspace}`)!;
      expect(mount.readOnly).toBe(true);
      const secretName = pod.volumes!.find((volume) => volume.name === mount.name)!.secret!.secretName;
      expect(secretName).toBe(components.XemHosts.credentialsSecretName('ops', workspace));
      const secret = recorded('kubernetes:core/v1:Secret', secretName)!.inputs as {
        metadata: { labels: Record<string, string> };
      };
      expect(secret.metadata.labels['xerotier.io/workspace']).toBe(workspace);
    }
  });
});

describe('ControlPlane', () => {
  it('once more than one router may serve (issue 21), leaves the replica count to the HPA: Pulumi neither sets nor resets it', async () => {
    const graph = new ResourceGraph();
    const secrets = new components.PlatformSecrets('s7', { bootstrapProject: 'acme', agents: [] });
    new components.ControlPlane(
      'cp',
      {
        namespace: 'x',
        image: 'r/router:0123abc',
        hostname: 'x.example.com',
        bootstrapProject: 'acme',
        secrets,
        replicaLimit: 10,
        router: { replicas: 2, maxReplicas: 6, cpu: '500m', memory: '512Mi', webhooksAllowedTargets: [] },
        database: { ownerUrl: 'postgres://o:p@db/x', appUrl: 'postgres://xerotier_app:q@db/x' },
        exposure: { ingress: { className: 'nginx', annotations: {} } },
      },
      { transformations: [graph.transformation] },
    );
    await registered(
      ['kubernetes:apps/v1:Deployment', 'cp-router'],
      ['kubernetes:autoscaling/v2:HorizontalPodAutoscaler', 'cp-router'],
    );
    expect(recorded('kubernetes:apps/v1:Deployment', 'cp-router')!.inputs['spec']).not.toHaveProperty('replicas');
    expect(graph.get('kubernetes:apps/v1:Deployment', 'cp-router')!.ignoreChanges).toEqual(['spec.replicas']);
    expect(recorded('kubernetes:autoscaling/v2:HorizontalPodAutoscaler', 'cp-router')!.inputs['spec']).toMatchObject({
      minReplicas: 2,
      maxReplicas: 6,
    });
  });
});
