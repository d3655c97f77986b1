import { createHash } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  /** Inputs as registered; values that were Pulumi secrets read "[secret]". */
  readonly inputs: Record<string, unknown>;
  /** Where secrets were, as paths (for checks that nothing sensitive is inline). */
  readonly secretPaths: readonly string[];
  /**
   * The same inputs with secrets in the clear, for tests that check where a secret goes (the
   * router's database user, say). In memory only: synth never writes it.
   */
  readonly revealed: Record<string, unknown>;
  /** A `.get` of something that exists already (a prerequisite the program checks), not declared. */
  readonly read: boolean;
}

// The marker Pulumi puts on serialized secret values.
const SECRET_SIG = '4dabf18193072939515e22adb298388d';

/**
 * Mocks that behave like the engine where it matters: random secrets come back as secrets
 * (deterministic from the resource's name, so snapshots are stable), Kubernetes objects get
 * their resource name when none is given (the engine would add a random suffix) and the status
 * the provider awaits (a load balancer's address, a Service's cluster IP), and every
 * registration is recorded with secrets redacted.
 */
export function platformMocks(): { mocks: pulumi.runtime.Mocks; resources: RecordedResource[] } {
  const resources: RecordedResource[] = [];
  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      const inputs = args.inputs as Record<string, unknown>;
      const secretPaths: string[] = [];
      if (args.type !== 'pulumi:pulumi:Stack') {
        resources.push({
          type: args.type,
          name: args.name,
          inputs: redact(inputs, '', secretPaths) as Record<string, unknown>,
          secretPaths,
          revealed: reveal(inputs) as Record<string, unknown>,
          read: Boolean(args.id),
        });
      }
      return { id: `${args.name}-id`, state: { ...inputs, ...computed(args.type, args.name, inputs) } };
    },
    call: (args) => AWS_CALLS[args.token] ?? (args.inputs as Record<string, unknown>),
  };
  return { mocks, resources };
}

function computed(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const bytes = createHash('sha256').update(`mock:${name}`).digest();
  if (type === 'random:index/randomBytes:RandomBytes')
    return { base64: pulumi.secret(bytes.toString('base64')), hex: pulumi.secret(bytes.toString('hex')) };
  if (type === 'random:index/randomPassword:RandomPassword')
    return { result: pulumi.secret(bytes.toString('base64url').slice(0, 40)) };
  if (type.startsWith('aws:'))
    return { arn: `arn:aws:mock:::${name}`, name: inputs['name'] ?? name, ...AWS_COMPUTED[type]?.(name) };
  if (type.startsWith('kubernetes:')) return kubernetesComputed(type, name, inputs, bytes);
  return {};
}

function kubernetesComputed(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
  bytes: Buffer,
): Record<string, unknown> {
  const metadata = (inputs['metadata'] ?? {}) as Record<string, unknown>;
  const spec = (inputs['spec'] ?? {}) as Record<string, unknown>;
  const state: Record<string, unknown> = { metadata: { ...metadata, name: metadata['name'] ?? name } };
  const balancer = { loadBalancer: { ingress: [{ hostname: `${name}.mock-elb.amazonaws.com` }] } };
  if (type === 'kubernetes:core/v1:Service') {
    state['spec'] = { ...spec, clusterIP: `10.100.${bytes[0]}.${bytes[1]}` };
    if (spec['type'] === 'LoadBalancer') state['status'] = balancer;
  }
  if (type === 'kubernetes:networking.k8s.io/v1:Ingress') state['status'] = balancer;
  return state;
}

const AWS_CALLS: Record<string, Record<string, unknown>> = {
  'aws:index/getAvailabilityZones:getAvailabilityZones': {
    names: ['zone-a', 'zone-b', 'zone-c'],
    zoneIds: ['z1', 'z2', 'z3'],
  },
  'aws:index/getRegion:getRegion': { name: 'mock-region-1', region: 'mock-region-1' },
  'aws:index/getCallerIdentity:getCallerIdentity': {
    accountId: '111122223333',
    arn: 'arn:aws:sts::111122223333:assumed-role/mock/session',
    userId: 'mock',
  },
  'aws:ssm/getParameter:getParameter': { name: 'ami', type: 'String', value: 'ami-mock' },
};

// What AWS computes and the program reads.
const AWS_COMPUTED: Record<string, (name: string) => Record<string, unknown>> = {
  'aws:rds/instance:Instance': (name) => ({
    address: `${name}.mock.rds.amazonaws.com`,
    endpoint: `${name}.mock.rds.amazonaws.com:5432`,
  }),
  'aws:elasticache/replicationGroup:ReplicationGroup': (name) => ({
    primaryEndpointAddress: `master.${name}.mock.cache.amazonaws.com`,
  }),
  'aws:eks/cluster:Cluster': (name) => ({
    endpoint: `https://${name}.mock.eks.amazonaws.com`,
    certificateAuthority: { data: 'bW9jay1jYQ==' },
    vpcConfig: { clusterSecurityGroupId: `${name}-cluster-sg-id` },
  }),
  'aws:ec2/launchTemplate:LaunchTemplate': () => ({ latestVersion: 1 }),
  'aws:acm/certificate:Certificate': (name) => ({
    domainValidationOptions: [
      {
        domainName: 'mock',
        resourceRecordName: `_x.${name}.mock.`,
        resourceRecordType: 'CNAME',
        resourceRecordValue: `_y.${name}.acm-validations.aws.`,
      },
    ],
  }),
};

function redact(value: unknown, path: string, secretPaths: string[]): unknown {
  if (Array.isArray(value)) return value.map((item, index) => redact(item, `${path}[${index}]`, secretPaths));
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (record[SECRET_SIG] !== undefined) {
      secretPaths.push(path);
      return '[secret]';
    }
    return Object.fromEntries(
      Object.entries(record).map(([key, inner]) => [key, redact(inner, path ? `${path}.${key}` : key, secretPaths)]),
    );
  }
  return value;
}

function reveal(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reveal);
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (record[SECRET_SIG] !== undefined) return reveal(record['value']);
    return Object.fromEntries(Object.entries(record).map(([key, inner]) => [key, reveal(inner)]));
  }
  return value;
}

/** An output's value (mocks resolve everything when not previewing). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) =>
    output.apply((value) => {
      resolve(value);
      return value;
    }),
  );
}

/** Registrations arrive asynchronously (inputs resolve first): waits until none came for `quietMs`. */
export async function untilQuiet(resources: readonly unknown[], quietMs = 150, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let count = -1;
  let since = Date.now();
  while (Date.now() < deadline) {
    if (resources.length !== count) [count, since] = [resources.length, Date.now()];
    else if (Date.now() - since >= quietMs) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
