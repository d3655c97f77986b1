/**
 * StackSettings: one stack file's `xerotier:*` keys, read once into a frozen, typed object.
 * Pure: `read(key)` returns the raw value the Pulumi config holds (or undefined), so tests and
 * the synth script feed it without an engine. Errors name the key and the stack file.
 */
export type Target = 'aws' | 'kubernetes';

export interface XimModel {
  readonly name: string;
  readonly model: string;
  readonly replicas: number;
  readonly gpus: number;
  readonly maxNumSeqs?: number;
  readonly vllmArgs?: readonly string[];
  readonly cacheSizeGi: number;
}

export interface XemHost {
  readonly name: string;
  readonly replicas: number;
  /** Runs the `kubernetes` bundle against this cluster: gets a service account with RBAC. */
  readonly kubernetesAccess: 'none' | 'read' | 'operate';
}

/** XEM agents on their own EC2 instances (aws target), next to what they operate outside the cluster. */
export interface XemEc2Hosts {
  readonly name: string;
  readonly count: number;
  readonly instanceType: string;
}

export interface StackSettings {
  readonly target: Target;
  readonly environment: 'dev' | 'staging' | 'prod' | 'preview';
  readonly namespace: string;
  readonly images: { readonly registry: string; readonly tag: string; readonly vllm: string };
  readonly hostname: string;
  readonly tlsIssuer: string;
  readonly bootstrapProject: string;
  readonly router: { readonly replicas: number; readonly maxReplicas: number; readonly cpu: string; readonly memory: string };
  readonly database: { readonly external: boolean; readonly storageGi: number; readonly instanceClass: string; readonly multiAz: boolean; readonly deletionProtection: boolean };
  readonly cache: { readonly external: boolean; readonly nodeType: string };
  readonly ximFleet: readonly XimModel[];
  readonly xemHosts: readonly XemHost[];
  readonly xemEc2Hosts: readonly XemEc2Hosts[];
  readonly aws: { readonly vpcCidr: string; readonly azCount: number; readonly cpuNodes: NodeGroupSize; readonly gpuNodes: NodeGroupSize; readonly meshSourceCidrs: readonly string[] };
}

export interface NodeGroupSize {
  readonly instanceType: string;
  readonly min: number;
  readonly max: number;
}

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(readonly key: string, message: string) {
    super(`xerotier:${key}: ${message}`);
  }
}

type Read = (key: string) => string | undefined;

export function readSettings(read: Read): StackSettings {
  const get = reader(read);
  const environment = get.oneOf('environment', ['dev', 'staging', 'prod', 'preview'] as const);
  const prod = environment === 'prod';
  return Object.freeze({
    target: get.oneOf('target', ['aws', 'kubernetes'] as const),
    environment,
    namespace: get.string('namespace', 'xerotier'),
    images: get.object('images', { registry: 'ghcr.io/xerotier', tag: 'latest', vllm: 'vllm/vllm-openai:v0.11.0' }),
    hostname: get.required('hostname'),
    tlsIssuer: get.string('tlsIssuer', 'letsencrypt'),
    bootstrapProject: get.string('bootstrapProject', 'platform'),
    router: get.object('router', { replicas: prod ? 3 : 1, maxReplicas: prod ? 10 : 2, cpu: '500m', memory: '512Mi' }),
    database: get.object('database', { external: false, storageGi: prod ? 100 : 20, instanceClass: prod ? 'db.r6g.large' : 'db.t4g.medium', multiAz: prod, deletionProtection: prod }),
    cache: get.object('cache', { external: false, nodeType: prod ? 'cache.r6g.large' : 'cache.t4g.small' }),
    ximFleet: get.list<Partial<XimModel>>('ximFleet', []).map((model, index): XimModel => ({ replicas: 1, gpus: 1, cacheSizeGi: 100, ...model, model: required(model.model, `ximFleet[${index}].model`), name: name(model.name, `ximFleet[${index}].name`) })),
    xemHosts: get.list<Partial<XemHost>>('xemHosts', []).map((host, index): XemHost => ({ replicas: 1, kubernetesAccess: 'none', ...host, name: name(host.name, `xemHosts[${index}].name`) })),
    xemEc2Hosts: get.list<Partial<XemEc2Hosts>>('xemEc2Hosts', []).map((host, index): XemEc2Hosts => ({ count: 1, instanceType: 't3.small', ...host, name: name(host.name, `xemEc2Hosts[${index}].name`) })),
    aws: get.object('aws', {
      vpcCidr: '10.40.0.0/16', azCount: prod ? 3 : 2, meshSourceCidrs: ['10.40.0.0/16'],
      cpuNodes: { instanceType: 'm7i.large', min: prod ? 3 : 1, max: prod ? 10 : 3 },
      gpuNodes: { instanceType: 'g6.xlarge', min: 0, max: prod ? 8 : 1 },
    }),
  });
}

function required(value: string | undefined, key: string): string {
  if (!value) throw new SettingsError(key, 'is required');
  return value;
}

function name(value: string | undefined, key: string): string {
  if (!value || !/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/.test(value)) throw new SettingsError(key, `"${value ?? ''}" must be a DNS label of up to 40 characters`);
  return value;
}

function reader(read: Read) {
  const json = (key: string): unknown => {
    const raw = read(key);
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new SettingsError(key, 'is not valid JSON (objects and lists are set with `pulumi config set --path` or as YAML in the stack file)');
    }
  };
  return {
    required(key: string): string {
      const value = read(key);
      if (value === undefined || value === '') throw new SettingsError(key, 'is required: set it in the stack file (config/stacks/Pulumi.<stack>.yaml)');
      return value;
    },
    string: (key: string, fallback: string) => read(key) ?? fallback,
    oneOf<T extends string>(key: string, values: readonly T[]): T {
      const value = read(key);
      if (!values.includes(value as T)) throw new SettingsError(key, `must be one of ${values.join(', ')}, not ${JSON.stringify(value ?? null)}`);
      return value as T;
    },
    object<T extends object>(key: string, defaults: T): T {
      const value = json(key);
      if (value === undefined) return defaults;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SettingsError(key, 'must be an object');
      const unknown = Object.keys(value).filter((field) => !(field in defaults));
      if (unknown.length > 0) throw new SettingsError(key, `has unknown fields ${unknown.join(', ')}; known: ${Object.keys(defaults).join(', ')}`);
      return { ...defaults, ...value };
    },
    list<T>(key: string, fallback: T[]): T[] {
      const value = json(key);
      if (value === undefined) return fallback;
      if (!Array.isArray(value)) throw new SettingsError(key, 'must be a list');
      return value as T[];
    },
  };
}
