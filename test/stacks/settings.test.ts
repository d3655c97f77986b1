import { describe, expect, it } from 'vitest';
import { outsideTracing } from '../../stacks/components/tracing-env.js';
import { readSettings, SettingsError } from '../../stacks/settings.js';

const kubernetes: Record<string, string> = {
  target: 'kubernetes',
  environment: 'dev',
  hostname: 'x.example.com',
  images: '{"tag":"0123abcd"}',
  ingress: '{"className":"traefik"}',
};
const aws: Record<string, string> = {
  target: 'aws',
  environment: 'prod',
  hostname: 'x.example.com',
  images: '{"tag":"0123abcd"}',
  aws: JSON.stringify({
    clusterAdmins: ['arn:aws:iam::111122223333:role/deploy'],
    dns: { hostedZoneId: 'Z0123456789AB' },
    gpuNodePools: [{ name: 'l4', instanceType: 'g6.xlarge', min: 1, max: 2 }],
  }),
};
const read = (base: Record<string, string>, extra: Record<string, string | undefined> = {}, region = 'us-east-1') =>
  readSettings((key) => ({ ...base, ...extra })[key], { region });
const refused = (base: Record<string, string>, extra: Record<string, string | undefined>) => {
  try {
    read(base, extra);
  } catch (error) {
    expect(error).toBeInstanceOf(SettingsError);
    return (error as Error).message;
  }
  throw new Error('accepted');
};

/** Settings are validated by a schema and the checks across keys, errors naming the key, before any resource is declared. */
describe('readSettings', () => {
  it('sizes by environment unless told, with safe defaults', () => {
    expect(read(kubernetes).router).toMatchObject({ replicas: 1, maxReplicas: 1 });
    expect(read(aws)).toMatchObject({
      database: { multiAz: true, deletionProtection: true },
      aws: { vpcCidr: '10.64.0.0/16', eksVersion: '1.35', azCount: 3 },
    });
    expect(read(aws, {}, 'eu-west-1').aws!.vpcCidr).toBe('10.72.0.0/16');
    expect(read(aws, { environment: 'staging' }).aws!.vpcCidr).toBe('10.112.0.0/16');
    expect(read(aws).mesh).toEqual({ expose: true, sourceCidrs: ['10.64.0.0/16'] });
    expect(read(kubernetes).mesh.expose).toBe(false);
  });

  it('names the key, down to the field, of a value of the wrong type or range', () => {
    expect(refused(kubernetes, { hostname: '' })).toMatch(/^xerotier:hostname: /);
    expect(refused(kubernetes, { target: 'gcp' })).toBe('xerotier:target: must be one of aws, kubernetes, not "gcp"');
    expect(refused(kubernetes, { router: '{"replica": 2}' })).toBe('xerotier:router: has unknown fields replica');
    expect(refused(kubernetes, { router: '{"replicas": "3"}' })).toMatch(/^xerotier:router\.replicas: must be integer/);
    expect(refused(kubernetes, { ximFleet: '[{"name":"ok","model":"m/x","replicas":-1}]' })).toMatch(
      /^xerotier:ximFleet\[0\]\.replicas: must be >= 0/,
    );
    expect(refused(kubernetes, { ximFleet: '[{"name":"ok","model":"m/x","gpus":"four"}]' })).toMatch(
      /^xerotier:ximFleet\[0\]\.gpus: /,
    );
    expect(refused(kubernetes, { ximFleet: '[{"name":"Bad_Name","model":"m"}]' })).toMatch(
      /^xerotier:ximFleet\[0\]\.name: /,
    );
    expect(refused(kubernetes, { ximFleet: '[{"name":"ok"}]' })).toMatch(
      /^xerotier:ximFleet\[0\]: must have required properties model/,
    );
    expect(refused(aws, { aws: '{"cpuNodes":{"instanceType":"p5.48xlarge"}}' })).toMatch(
      /^xerotier:aws\.cpuNodes: must have required properties min, max/,
    );
    expect(refused(kubernetes, { frontend: '{"replicas":0}' })).toMatch(/^xerotier:frontend\.replicas: must be >= 1/);
    expect(refused(kubernetes, { monitoring: '{"tracing":{"endpoint":"collector:4318"}}' })).toMatch(
      /^xerotier:monitoring\.tracing\.endpoint: /,
    );
    expect(
      refused(kubernetes, { monitoring: '{"tracing":{"endpoint":"http://c:4318/v1/traces","sampleRate":2}}' }),
    ).toMatch(/^xerotier:monitoring\.tracing\.sampleRate: must be <= 1/);
    expect(
      read(kubernetes, { monitoring: '{"tracing":{"endpoint":"http://c:4318/v1/traces"}}' }).monitoring.tracing,
    ).toEqual({ endpoint: 'http://c:4318/v1/traces', sampleRate: 1 });
  });

  it('requires an image tag that cannot move', () => {
    expect(refused(kubernetes, { images: '{}' })).toMatch(/^xerotier:images\.tag: is required/);
    for (const tag of ['latest', 'main', 'pr-12', 'v0.1.0'])
      expect(refused(kubernetes, { images: JSON.stringify({ tag }) })).toMatch(
        /^xerotier:images\.tag: .* can be re-pushed/,
      );
    expect(read(kubernetes, { images: `{"tag":"sha256:${'a'.repeat(64)}"}` }).images.tag).toMatch(/^sha256:/);
  });

  it('runs up to ten routers (what the replica simulation measured), and refuses more', () => {
    expect(refused(kubernetes, { router: '{"replicas": 11}' })).toMatch(
      /^xerotier:router\.replicas: 11 is more than 10: more replicas than the fleet was measured with/,
    );
    expect(refused(kubernetes, { router: '{"maxReplicas": 12}' })).toMatch(/^xerotier:router\.maxReplicas: /);
    expect(read(kubernetes, { router: '{"replicas": 3, "maxReplicas": 10}' }).router).toMatchObject({
      replicas: 3,
      maxReplicas: 10,
    });
  });

  it('checks CIDRs: a private VPC of /16 to /20, a region without a default must say one, the mesh never open to the world', () => {
    expect(refused(aws, { aws: JSON.stringify({ ...JSON.parse(aws['aws']!), vpcCidr: '10.1.0.0/24' }) })).toMatch(
      /^xerotier:aws\.vpcCidr: .* from \/16 to \/20/,
    );
    expect(refused(aws, { aws: JSON.stringify({ ...JSON.parse(aws['aws']!), vpcCidr: '8.8.0.0/16' }) })).toMatch(
      /^xerotier:aws\.vpcCidr: .* private/,
    );
    expect(() => readSettings((key) => aws[key], { region: 'xx-nowhere-1' })).toThrow(
      /^xerotier:aws\.vpcCidr: is required: xx-nowhere-1 has no default/,
    );
    expect(refused(aws, { mesh: '{"sourceCidrs":["0.0.0.0/0"]}' })).toMatch(
      /^xerotier:mesh\.sourceCidrs: 0\.0\.0\.0\/0 opens the mesh port/,
    );
    expect(refused(aws, { mesh: '{"sourceCidrs":["10.0.0.0/33"]}' })).toMatch(/^xerotier:mesh\.sourceCidrs\[0\]: /);
    expect(refused(kubernetes, { mesh: '{"expose":true,"sourceCidrs":["0.0.0.0/0"]}' })).toMatch(
      /^xerotier:mesh\.sourceCidrs: 0\.0\.0\.0\/0 opens/,
    );
    expect(refused(kubernetes, { mesh: '{"expose":true}' })).toMatch(
      /^xerotier:mesh\.sourceCidrs: is required when mesh\.expose/,
    );
  });

  it('checks models: unique names, known size, cache and GPUs that hold them, a token when gated', () => {
    const fleet = (models: object[]) => ({ ximFleet: JSON.stringify(models) });
    const qwen = { name: 'qwen', model: 'Qwen/Qwen3-8B', nodePool: 'l4' };
    expect(refused(aws, fleet([qwen, qwen]))).toBe(
      'xerotier:ximFleet[1].name: "qwen" is used twice: model names must be unique',
    );
    expect(refused(aws, fleet([{ ...qwen, model: 'acme/unknown' }]))).toMatch(
      /^xerotier:ximFleet\[0\]\.weightsGi: is required for acme\/unknown/,
    );
    expect(refused(aws, fleet([{ ...qwen, cacheSizeGi: 10 }]))).toMatch(
      /^xerotier:ximFleet\[0\]\.cacheSizeGi: 10 Gi cannot hold/,
    );
    expect(refused(aws, fleet([{ ...qwen, maxModelLen: 131072 }]))).toMatch(
      /^xerotier:ximFleet\[0\]\.gpus: Qwen\/Qwen3-8B: .* does not fit in/,
    );
    expect(refused(aws, fleet([{ ...qwen, model: 'Qwen/Qwen2.5-72B-Instruct' }]))).toMatch(
      /^xerotier:ximFleet\[0\]\.gpus: /,
    );
    expect(refused(aws, fleet([{ ...qwen, model: 'meta-llama/Llama-3.1-8B-Instruct' }]))).toMatch(
      /^xerotier:huggingFaceToken: is required .* gated/,
    );
    expect(
      readSettings((key) => ({ ...aws, ...fleet([{ ...qwen, model: 'meta-llama/Llama-3.1-8B-Instruct' }]) })[key], {
        region: 'us-east-1',
        secrets: new Set(['huggingFaceToken']),
      }).ximFleet[0]!.gated,
    ).toBe(true);
    expect(read(aws, fleet([qwen])).ximFleet[0]).toMatchObject({
      weightsGi: 15.3,
      cacheSizeGi: 20,
      nodeSelector: { 'xerotier.io/pool': 'l4' },
      resources: { cpu: '3', memory: '12Gi' },
    });
  });

  it('checks GPU pools: a known instance, a minimum that hosts the fleet (there is no autoscaler), every model placed', () => {
    const pools = (gpuNodePools: object[]) => ({ aws: JSON.stringify({ ...JSON.parse(aws['aws']!), gpuNodePools }) });
    const qwen = (replicas: number) => ({
      ximFleet: JSON.stringify([{ name: 'qwen', model: 'Qwen/Qwen3-8B', nodePool: 'l4', replicas }]),
    });
    expect(refused(aws, { ...qwen(3) })).toMatch(
      /^xerotier:aws\.gpuNodePools\[0\]\.min: 1 × 1 GPUs cannot host 3 GPUs of qwen/,
    );
    expect(refused(aws, { ...qwen(1), ...pools([{ name: 'l4', instanceType: 'x9.huge', min: 1, max: 1 }]) })).toMatch(
      /^xerotier:aws\.gpuNodePools\[0\]\.instanceType: x9\.huge is not a known GPU instance/,
    );
    expect(
      refused(aws, { ...qwen(1), ...pools([{ name: 'h100', instanceType: 'p5.48xlarge', min: 1, max: 1 }]) }),
    ).toMatch(/^xerotier:ximFleet\[0\]\.nodePool: names no entry of aws\.gpuNodePools \(h100\)/);
  });

  it('checks the cluster: a supported EKS version, admins, one way to a certificate; XEM targets outside the platform namespace', () => {
    const cloud = (extra: object) => ({ aws: JSON.stringify({ ...JSON.parse(aws['aws']!), ...extra }) });
    expect(refused(aws, cloud({ eksVersion: '1.31' }))).toMatch(
      /^xerotier:aws\.eksVersion: 1\.31 is not in EKS standard support/,
    );
    expect(refused(aws, cloud({ clusterAdmins: [] }))).toMatch(/^xerotier:aws\.clusterAdmins: is required/);
    expect(refused(aws, cloud({ dns: {} }))).toMatch(/^xerotier:aws\.dns: needs exactly one/);
    expect(
      refused(kubernetes, { xemHosts: '[{"name":"ops","kubernetesAccess":"read","targetNamespaces":["xerotier"]}]' }),
    ).toMatch(/^xerotier:xemHosts\[0\]\.targetNamespaces: may not include the platform's own namespace/);
    expect(refused(kubernetes, { xemHosts: '[{"name":"ops","kubernetesAccess":"operate"}]' })).toMatch(
      /^xerotier:xemHosts\[0\]\.targetNamespaces: is required for kubernetesAccess operate/,
    );
    expect(refused(kubernetes, { ingress: '{}' })).toMatch(
      /^xerotier:ingress\.className: is required on the kubernetes target/,
    );
    expect(refused(kubernetes, { rotation: '{"databaseOwner":1}' })).toMatch(
      /^xerotier:rotation\.databaseOwner: cannot rotate the in-cluster Postgres superuser/,
    );
    expect(refused(kubernetes, { rotation: '{"vault":1}' })).toBe('xerotier:rotation: has unknown fields vault');
  });
});

describe('tracing for hosts outside the cluster', () => {
  const tracing = (endpoint: string, outsideEndpoint?: string) => ({
    endpoint,
    sampleRate: 0.5,
    ...(outsideEndpoint ? { outsideEndpoint } : {}),
  });
  it('uses the outside endpoint when given, the endpoint when DNS outside the cluster resolves it, and nothing for a Service name', () => {
    expect(
      outsideTracing(tracing('http://otel.observability.svc:4318/v1/traces', 'https://otel.example.com/v1/traces')),
    ).toEqual({ endpoint: 'https://otel.example.com/v1/traces', sampleRate: 0.5 });
    expect(outsideTracing(tracing('https://otel.example.com/v1/traces'))).toMatchObject({
      endpoint: 'https://otel.example.com/v1/traces',
    });
    for (const local of [
      'http://otel-collector:4318/v1/traces',
      'http://otel.observability.svc:4318/v1/traces',
      'http://otel.observability.svc.cluster.local:4318/v1/traces',
    ]) {
      expect(outsideTracing(tracing(local)), local).toBeUndefined();
    }
    expect(outsideTracing(undefined)).toBeUndefined();
  });
});
