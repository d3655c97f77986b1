import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { routerConfigSchema } from '../../services/router/config.js';
import { xemAgentConfigSchema } from '../../services/xem-agent/config.js';
import { ximAgentConfigSchema } from '../../services/xim-agent/config.js';
import { requiredSettings } from '../../stacks/env.js';
import { platformMocks, untilQuiet, type RecordedResource } from '../../stacks/offline/mocks.js';
import { loadStackConfig } from '../../stacks/offline/stack-file.js';


async function runStack(stack: string): Promise<{ program: unknown; resources: RecordedResource[] }> {
  vi.resetModules();
  const { mocks, resources } = platformMocks();
  pulumi.runtime.setAllConfig(loadStackConfig(stack), []);
  await pulumi.runtime.setMocks(mocks, 'xerotier', stack, false);
  const program: unknown = await import('../../stacks/index.js');
  await untilQuiet(resources);
  return { program, resources };
}

const ofType = (resources: RecordedResource[], type: string) => resources.filter((resource) => resource.type === type);
type Spec = { template: { spec: { containers: { name: string; env?: { name: string; value?: unknown; valueFrom?: unknown }[]; resources?: { limits?: Record<string, string> } }[]; tolerations?: unknown[] } } };

describe.each(['dev-us-east-1', 'pr-template', 'staging-us-east-1', 'prod-us-east-1', 'prod-eu-west-1'])('the program for %s', (stack) => {
  let resources: RecordedResource[];
  beforeAll(async () => {
    ({ resources } = await runStack(stack));
  }, 60_000);

  it('creates the namespace, the router with its migration job, ingress with TLS, mesh load balancer, PDB and HPA', () => {
    const types = new Set(resources.map((resource) => resource.type));
    for (const type of ['kubernetes:core/v1:Namespace', 'kubernetes:apps/v1:Deployment', 'kubernetes:batch/v1:Job', 'kubernetes:networking.k8s.io/v1:Ingress', 'kubernetes:policy/v1:PodDisruptionBudget', 'kubernetes:autoscaling/v2:HorizontalPodAutoscaler']) {
      expect(types).toContain(type);
    }
    const ingress = ofType(resources, 'kubernetes:networking.k8s.io/v1:Ingress')[0]!.inputs as { spec: { tls: { hosts: string[] }[] } };
    expect(ingress.spec.tls[0]!.hosts).toEqual([loadStackConfig(stack)['xerotier:hostname']]);
    const mesh = ofType(resources, 'kubernetes:core/v1:Service').find((service) => service.name === 'control-plane-mesh')!.inputs as { spec: { type: string; ports: { port: number }[] } };
    expect(mesh.spec).toMatchObject({ type: 'LoadBalancer', ports: [{ port: 5555 }] });
  });

  it('gives each service container every required setting, and secret settings only from Secrets', () => {
    const workloads = [...ofType(resources, 'kubernetes:apps/v1:Deployment'), ...ofType(resources, 'kubernetes:apps/v1:StatefulSet')];
    const containers = workloads.flatMap((workload) => (workload.inputs['spec'] as Spec).template.spec.containers);
    const check = (name: string, schema: Parameters<typeof requiredSettings>[0], setByEntrypoint: string[] = []) => {
      const found = containers.filter((container) => container.name === name);
      for (const container of found) {
        const names = new Set((container.env ?? []).map((variable) => variable.name));
        for (const key of requiredSettings(schema)) if (!setByEntrypoint.includes(key)) expect(names, `${name} lacks ${key}`).toContain(schema.keys[key]!.env);
        for (const [key, spec] of Object.entries(schema.keys)) {
          const variable = container.env?.find((entry) => entry.name === spec.env);
          if (spec.secret && variable) expect(variable, `${name}: ${key} inline`).toMatchObject({ valueFrom: { secretKeyRef: expect.anything() } });
        }
      }
      return found.length;
    };
    expect(check('router', routerConfigSchema)).toBe(1);
    // Agents refuse plain-HTTP routers (join keys cross that link): they are given the HTTPS URL.
    const routerUrls = containers.flatMap((container) => (container.env ?? []).filter((variable) => ['XEM_ROUTER_URL', 'XEROTIER_AGENT_ROUTER_URL'].includes(variable.name)));
    expect(routerUrls.length).toBeGreaterThan(0);
    for (const variable of routerUrls) expect(variable.value).toBe(`https://${loadStackConfig(stack)['xerotier:hostname']}`);
    // Agents read their join key from the mounted Secret at start (one key per replica).
    expect(check('xem-agent', xemAgentConfigSchema, ['join_key'])).toBeGreaterThan(0);
    if (stack !== 'pr-template') expect(check('xim-agent', ximAgentConfigSchema, ['join_key'])).toBeGreaterThan(0);
  });

  it('keeps every Secret\'s data secret, and no secret value inline in any other resource', () => {
    for (const secret of ofType(resources, 'kubernetes:core/v1:Secret')) {
      // The SDK marks the whole of stringData secret; the mocks show it as "[secret]".
      expect(secret.inputs['stringData'], secret.name).toBe('[secret]');
    }
    // Where a secret is meant to go: the cloud resources that take one, and the cluster provider's kubeconfig.
    const allowed: Record<string, string[]> = {
      'aws:rds/instance:Instance': ['password'], 'aws:elasticache/replicationGroup:ReplicationGroup': ['authToken'],
      'aws:secretsmanager/secretVersion:SecretVersion': ['secretString'], 'pulumi:providers:kubernetes': ['kubeconfig'],
    };
    const elsewhere = resources.filter((resource) => resource.type !== 'kubernetes:core/v1:Secret' && !resource.type.startsWith('random:'))
      .flatMap((resource) => resource.secretPaths.filter((path) => !(allowed[resource.type] ?? []).includes(path)).map((path) => `${resource.name}: ${path}`));
    expect(elsewhere).toEqual([]);
  });
});

describe.each(['staging-us-east-1', 'prod-us-east-1', 'prod-eu-west-1'])('the aws foundations of %s', (stack) => {
  let resources: RecordedResource[];
  const prod = stack.startsWith('prod');
  const one = (type: string) => ofType(resources, type)[0]!.inputs;
  beforeAll(async () => {
    ({ resources } = await runStack(stack));
  }, 60_000);

  it('keeps Postgres private, encrypted, TLS-only and backed up; Multi-AZ and protected in prod', () => {
    expect(one('aws:rds/instance:Instance')).toMatchObject({ publiclyAccessible: false, storageEncrypted: true, password: '[secret]', multiAz: prod, deletionProtection: prod });
    expect((one('aws:rds/instance:Instance')['backupRetentionPeriod'] as number)).toBeGreaterThanOrEqual(7);
    expect(one('aws:rds/parameterGroup:ParameterGroup')['parameters']).toContainEqual({ name: 'rds.force_ssl', value: '1' });
  });

  it('makes Redis require TLS and its auth token', () => {
    expect(one('aws:elasticache/replicationGroup:ReplicationGroup')).toMatchObject({ transitEncryptionEnabled: true, atRestEncryptionEnabled: true, authToken: '[secret]', automaticFailoverEnabled: prod });
  });

  it('lets only the nodes reach Postgres and Redis, and only the agents\' networks reach the mesh port', () => {
    const rules = ofType(resources, 'aws:ec2/securityGroupRule:SecurityGroupRule').map((rule) => rule.inputs as { fromPort: number; sourceSecurityGroupId?: string; cidrBlocks?: string[] });
    for (const port of [5432, 6379]) {
      const rule = rules.filter((candidate) => candidate.fromPort === port);
      expect(rule).toEqual([expect.objectContaining({ sourceSecurityGroupId: 'network-nodes-id' })]);
      expect(rule[0]!.cidrBlocks).toBeUndefined();
    }
    expect(rules.find((rule) => rule.fromPort === 5555)!.cidrBlocks).toEqual(JSON.parse(loadStackConfig(stack)['xerotier:aws']!).meshSourceCidrs);
    expect(ofType(resources, 'aws:ec2/subnet:Subnet').filter((subnet) => subnet.inputs['mapPublicIpOnLaunch'] === false)).toHaveLength(3);
  });

  it('taints the NVIDIA node group, installs the device plugin, and puts XIM pods there with GPUs requested', () => {
    const gpu = ofType(resources, 'aws:eks/nodeGroup:NodeGroup').find((group) => group.name === 'cluster-gpu')!.inputs;
    expect(gpu).toMatchObject({ amiType: 'AL2023_x86_64_NVIDIA', taints: [{ key: 'nvidia.com/gpu', effect: 'NO_SCHEDULE' }], labels: { 'xerotier.io/pool': 'gpu' } });
    expect(ofType(resources, 'kubernetes:apps/v1:DaemonSet').map((daemonSet) => daemonSet.name)).toContain('nvidia-device-plugin');
    const xim = ofType(resources, 'kubernetes:apps/v1:StatefulSet').find((set) => set.name.startsWith('xim-'))!.inputs['spec'] as Spec;
    expect(xim.template.spec.tolerations).toContainEqual(expect.objectContaining({ key: 'nvidia.com/gpu' }));
    expect(xim.template.spec.containers.find((container) => container.name === 'vllm')!.resources!.limits!['nvidia.com/gpu']).toBe('4');
  });

  it('starts XEM agents on EC2 with IMDSv2, their join key fetched from Secrets Manager by their own role, never in user data', () => {
    if (stack === 'prod-eu-west-1') return;
    const template = one('aws:ec2/launchTemplate:LaunchTemplate') as { metadataOptions: { httpTokens: string }; userData: string; blockDeviceMappings: { ebs: { encrypted: string } }[] };
    expect(template.metadataOptions.httpTokens).toBe('required');
    expect(template.blockDeviceMappings[0]!.ebs.encrypted).toBe('true');
    const script = Buffer.from(template.userData, 'base64').toString('utf8');
    expect(script).toContain("XEM_REGISTRATION_NAME='xem-ec2-data-ops-0'");
    expect(script).toMatch(/aws secretsmanager get-secret-value --region mock-region-1 --secret-id 'arn:aws:mock:::xem-ec2-data-ops-0'/);
    expect(script).not.toMatch(/xjk_/);
    const policy = JSON.parse(one('aws:iam/rolePolicy:RolePolicy')['policy'] as string) as { Statement: { Action: string; Resource: string }[] };
    expect(policy.Statement).toEqual([{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: 'arn:aws:mock:::xem-ec2-data-ops-0' }]);
    expect(one('aws:ec2/instance:Instance')['subnetId']).toBe('network-private-0-id');
  });

  it('runs the router on the managed data services, and keeps the admin and join keys in Secrets Manager', () => {
    const router = (ofType(resources, 'kubernetes:apps/v1:Deployment')[0]!.inputs['spec'] as Spec).template.spec.containers[0]!;
    expect(router.env).toContainEqual({ name: 'XEROTIER_CACHE_BACKEND', value: 'redis' });
    expect(ofType(resources, 'kubernetes:apps/v1:StatefulSet').filter((set) => set.name.startsWith('data-'))).toEqual([]);
    for (const version of ofType(resources, 'aws:secretsmanager/secretVersion:SecretVersion')) expect(version.inputs['secretString']).toBe('[secret]');
  });
});
