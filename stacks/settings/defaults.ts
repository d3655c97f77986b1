import { GPU_INSTANCES, hostShare } from '../rules/gpu.js';
import { defaultCacheSizeGi, KNOWN_MODELS } from '../rules/models.js';
import { DEFAULT_EKS_VERSION } from '../rules/platform.js';
import { defaultVpcCidr } from '../rules/vpc-plan.js';
import type { RawSettings, RawXemHost, RawXimModel } from './schema.js';
import type { AwsSettings, Environment, GpuNodePool, StackSettings, XemHost, XimModel } from './types.js';

/**
 * What a stack file may leave out, by environment: sizes grow and protections turn on in prod.
 * Pure; the values a default depends on (region, environment, GPU pool) are arguments.
 */
export interface DefaultsContext {
  readonly environment: Environment;
  readonly region?: string;
}

export function routerDefaults(raw: RawSettings['router']): StackSettings['router'] {
  const replicas = raw?.replicas ?? 1;
  return {
    replicas,
    maxReplicas: raw?.maxReplicas ?? replicas,
    cpu: raw?.cpu ?? '500m',
    memory: raw?.memory ?? '512Mi',
    webhooksAllowedTargets: raw?.webhooksAllowedTargets ?? [],
  };
}

/** The UI: two replicas in prod (sessions are in Redis, so either serves any browser). */
export function frontendDefaults(raw: RawSettings['frontend'], prod: boolean): StackSettings['frontend'] {
  return {
    enabled: raw?.enabled ?? true,
    replicas: raw?.replicas ?? (prod ? 2 : 1),
    cpu: raw?.cpu ?? '100m',
    memory: raw?.memory ?? '256Mi',
  };
}

export function databaseDefaults(raw: RawSettings['database'], prod: boolean): StackSettings['database'] {
  return {
    external: raw?.external ?? false,
    storageGi: raw?.storageGi ?? (prod ? 100 : 20),
    instanceClass: raw?.instanceClass ?? (prod ? 'db.r6g.large' : 'db.t4g.medium'),
    multiAz: raw?.multiAz ?? prod,
    deletionProtection: raw?.deletionProtection ?? prod,
  };
}

export function awsDefaults(raw: RawSettings['aws'], context: DefaultsContext): AwsSettings {
  const prod = context.environment === 'prod';
  return {
    region: context.region ?? '',
    vpcCidr: raw?.vpcCidr ?? defaultVpcCidr(context.region, context.environment) ?? '',
    azCount: raw?.azCount ?? (prod ? 3 : 2),
    eksVersion: raw?.eksVersion ?? DEFAULT_EKS_VERSION,
    clusterAdmins: raw?.clusterAdmins ?? [],
    endpointPublicAccessCidrs: raw?.endpointPublicAccessCidrs ?? ['0.0.0.0/0'],
    cpuNodes: raw?.cpuNodes ?? { instanceType: 'm7i.large', min: prod ? 3 : 2, max: prod ? 10 : 4 },
    gpuNodePools: raw?.gpuNodePools ?? [],
    dns: raw?.dns ?? {},
  };
}

/** A model with everything filled: known models give their size; the pool gives placement. */
export function ximModel(raw: RawXimModel, pools: readonly GpuNodePool[], target: 'aws' | 'kubernetes'): XimModel {
  const known = KNOWN_MODELS[raw.model];
  const weightsGi = raw.weightsGi ?? known?.weightsGi ?? 0;
  const gpus = raw.gpus ?? 1;
  const pool =
    target === 'aws' ? pools.find((candidate) => candidate.name === (raw.nodePool ?? pools[0]?.name)) : undefined;
  const instance = pool ? GPU_INSTANCES[pool.instanceType] : undefined;
  return {
    name: raw.name,
    model: raw.model,
    ...(raw.revision ? { revision: raw.revision } : {}),
    replicas: raw.replicas ?? 1,
    gpus,
    maxNumSeqs: raw.maxNumSeqs ?? 64,
    maxModelLen: raw.maxModelLen ?? 8192,
    vllmArgs: raw.vllmArgs ?? [],
    weightsGi,
    cacheSizeGi: raw.cacheSizeGi ?? defaultCacheSizeGi(weightsGi),
    gated: raw.gated ?? known?.gated ?? false,
    nodeSelector: pool ? { 'xerotier.io/pool': pool.name } : (raw.nodeSelector ?? { 'xerotier.io/pool': 'gpu' }),
    ...(instance ? { gpuMemoryGi: instance.gpuMemoryGi } : raw.gpuMemoryGi ? { gpuMemoryGi: raw.gpuMemoryGi } : {}),
    resources: raw.resources ?? (instance ? hostShare(instance, gpus) : { cpu: '4', memory: '32Gi' }),
  };
}

export function xemHost(raw: RawXemHost): XemHost {
  return {
    name: raw.name,
    replicas: raw.replicas ?? 1,
    kubernetesAccess: raw.kubernetesAccess ?? 'none',
    targetNamespaces: raw.targetNamespaces ?? [],
    operateResources: raw.operateResources ?? [],
    workspaces: raw.workspaces ?? [],
  };
}
