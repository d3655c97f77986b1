import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { listStacks, loadStackConfig, REPO_ROOT } from '../../stacks/offline/stack-file.js';
import { RDS_CA_BUNDLE } from '../../stacks/rules/database-url.js';
import { EKS_VERSIONS } from '../../stacks/rules/platform.js';
import { Synthesized } from './synthesized.js';

const awsStacks = listStacks().filter((stack) => loadStackConfig(stack)['xerotier:target'] === 'aws');
type Rule = { securityGroupId: string; sourceSecurityGroupId?: string; cidrBlocks?: string[]; fromPort: number };

/**
 * The AWS data path and cluster, checked on every aws stack file's synthesized resources:
 * which group the nodes carry against which group the databases admit, the RDS CA and
 * verify-full, access entries, node pools, add-ons before what waits on them, names that carry
 * the stack.
 */
describe.each(awsStacks)('the aws target for %s', (stack) => {
  let synth: Synthesized;
  const config = loadStackConfig(stack);
  const settingsOf = (key: string) => JSON.parse(config[`xerotier:${key}`] ?? '{}') as Record<string, unknown>;
  beforeAll(async () => {
    synth = await Synthesized.of(stack);
  }, 60_000);
  const idOf = (type: string, name: string) => `${synth.one(type, name).name}-id`;

  it('puts on every node the group Postgres, Redis and EFS admit (and the EKS cluster group for the control plane)', () => {
    const rules = synth.ofType('aws:ec2/securityGroupRule:SecurityGroupRule').map((rule) => rule.inputs as Rule);
    const admitted = [5432, 6379, 2049].map((port) => rules.filter((rule) => rule.fromPort === port));
    for (const rulesForPort of admitted) {
      expect(rulesForPort).toHaveLength(1);
      expect(rulesForPort[0]!.cidrBlocks).toBeUndefined();
    }
    const sources = new Set(admitted.map((rulesForPort) => rulesForPort[0]!.sourceSecurityGroupId));
    expect(sources.size).toBe(1);
    const [source] = [...sources];
    const templates = new Map(
      synth.ofType('aws:ec2/launchTemplate:LaunchTemplate').map((template) => [
        `${template.name}-id`,
        template.inputs as {
          vpcSecurityGroupIds: string[];
          metadataOptions: { httpTokens: string; httpPutResponseHopLimit: number };
        },
      ]),
    );
    const nodeGroups = synth.ofType('aws:eks/nodeGroup:NodeGroup');
    expect(nodeGroups.length).toBeGreaterThanOrEqual(2);
    for (const group of nodeGroups) {
      const template = templates.get((group.inputs['launchTemplate'] as { id: string }).id);
      expect(template, `${group.name} uses a launch template of the stack`).toBeDefined();
      expect(template!.vpcSecurityGroupIds).toContain(source);
      expect(template!.vpcSecurityGroupIds).toContain('cluster-cluster-sg-id');
      expect(template!.metadataOptions).toMatchObject({ httpTokens: 'required', httpPutResponseHopLimit: 1 });
    }
    // The databases' own groups are what RDS and ElastiCache carry, in the data subnets.
    expect(synth.one('aws:rds/instance:Instance').inputs['vpcSecurityGroupIds']).toEqual([
      idOf('aws:ec2/securityGroup:SecurityGroup', 'network-database'),
    ]);
    expect(synth.one('aws:elasticache/replicationGroup:ReplicationGroup').inputs['securityGroupIds']).toEqual([
      idOf('aws:ec2/securityGroup:SecurityGroup', 'network-cache'),
    ]);
    expect(synth.one('aws:rds/subnetGroup:SubnetGroup').inputs['subnetIds']).toEqual(
      expect.arrayContaining(['network-data-0-id']),
    );
  });

  it('trusts the RDS CA bundle the router image ships, with full verification, in the router and the migration', () => {
    const dockerfile = readFileSync(join(REPO_ROOT, 'images/router/Dockerfile'), 'utf8');
    expect(dockerfile).toContain(RDS_CA_BUNDLE);
    for (const name of ['control-plane-router', 'control-plane-migrate']) {
      const data = synth.one('kubernetes:core/v1:Secret', name).revealed['stringData'] as Record<string, string>;
      const url = new URL(data['database_url'] ?? data['owner_database_url']!);
      expect(url.searchParams.get('sslmode'), name).toBe('verify-full');
      expect(url.searchParams.get('sslrootcert'), name).toBe(RDS_CA_BUNDLE);
    }
    for (const workload of [...synth.component('router'), ...synth.component('migrate')]) {
      expect(workload.spec.template.spec.containers[0]!.env).toContainEqual({
        name: 'NODE_EXTRA_CA_CERTS',
        value: RDS_CA_BUNDLE,
      });
    }
    expect(synth.one('aws:rds/parameterGroup:ParameterGroup').inputs['parameters']).toContainEqual({
      name: 'rds.force_ssl',
      value: '1',
    });
  });

  it('keeps Postgres private, encrypted and backed up, Multi-AZ and protected in prod, its final snapshot named for the stack', () => {
    const prod = config['xerotier:environment'] === 'prod';
    const instance = synth.one('aws:rds/instance:Instance').inputs;
    expect(instance).toMatchObject({
      publiclyAccessible: false,
      storageEncrypted: true,
      password: '[secret]',
      multiAz: prod,
      deletionProtection: prod,
    });
    expect(instance['backupRetentionPeriod'] as number).toBeGreaterThanOrEqual(7);
    if (prod) expect(instance['finalSnapshotIdentifier']).toBe(`xerotier-${stack}-final`);
    expect(synth.options('aws:rds/instance:Instance', 'database').parent).toMatch(/Database::database$/);
    expect(synth.one('aws:elasticache/replicationGroup:ReplicationGroup').inputs).toMatchObject({
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      authToken: '[secret]',
      automaticFailoverEnabled: prod,
    });
  });

  it('gives the listed roles cluster-admin access entries and nobody implicit; a supported version', () => {
    const cluster = synth.one('aws:eks/cluster:Cluster').inputs as {
      version: string;
      accessConfig: { authenticationMode: string; bootstrapClusterCreatorAdminPermissions: boolean };
    };
    expect(cluster.accessConfig).toEqual({ authenticationMode: 'API', bootstrapClusterCreatorAdminPermissions: false });
    expect(EKS_VERSIONS).toContain(cluster.version);
    const admins = settingsOf('aws')['clusterAdmins'] as string[];
    expect(synth.ofType('aws:eks/accessEntry:AccessEntry').map((entry) => entry.inputs['principalArn'])).toEqual(
      admins,
    );
    for (const association of synth.ofType('aws:eks/accessPolicyAssociation:AccessPolicyAssociation')) {
      expect(association.inputs).toMatchObject({
        policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
        accessScope: { type: 'cluster' },
      });
    }
  });

  it('has GPU capacity that exists (a pool minimum per model) and places each model on its pool', () => {
    const groups = synth.ofType('aws:eks/nodeGroup:NodeGroup').map(
      (group) =>
        group.inputs as {
          labels: Record<string, string>;
          scalingConfig: { minSize: number; desiredSize: number };
          taints: { key: string }[];
          amiType: string;
        },
    );
    for (const workload of synth.component('xim').filter((candidate) => candidate.type.endsWith('StatefulSet'))) {
      const pool = workload.spec.template.spec.nodeSelector!['xerotier.io/pool'];
      const group = groups.find((candidate) => candidate.labels['xerotier.io/pool'] === pool);
      expect(group, `${workload.name} → pool ${pool}`).toBeDefined();
      expect(group!.amiType).toBe('AL2023_x86_64_NVIDIA');
      expect(group!.taints).toContainEqual(expect.objectContaining({ key: 'nvidia.com/gpu' }));
      expect(group!.scalingConfig.minSize).toBeGreaterThan(0);
      expect(group!.scalingConfig.desiredSize).toBe(group!.scalingConfig.minSize);
    }
  });

  it('installs the add-ons before anything waits on them, the VPC CNI (network policy on) before the nodes', () => {
    const addon = (name: string) => synth.one('aws:eks/addon:Addon', `addons-${name}`);
    const ebs = addon('aws-ebs-csi-driver');
    expect(ebs.inputs['podIdentityAssociations']).toEqual([
      expect.objectContaining({ serviceAccount: 'ebs-csi-controller-sa' }),
    ]);
    expect(synth.waitsFor(ebs, addon('eks-pod-identity-agent'))).toBe(true);
    const gp3 = synth.one('kubernetes:storage.k8s.io/v1:StorageClass', 'addons-gp3');
    expect(synth.waitsFor(gp3, ebs)).toBe(true);
    const balancer = synth.one('kubernetes:helm.sh/v3:Release', 'addons-aws-load-balancer-controller');
    const cni = synth.one('aws:eks/addon:Addon', 'cluster-vpc-cni');
    expect(JSON.parse(cni.inputs['configurationValues'] as string)).toEqual({ enableNetworkPolicy: 'true' });
    for (const group of synth.ofType('aws:eks/nodeGroup:NodeGroup')) {
      expect(synth.waitsFor(group, cni), group.name).toBe(true);
      for (const dependant of [ebs, addon('metrics-server'), balancer])
        expect(synth.waitsFor(dependant, group), `${dependant.name} after ${group.name}`).toBe(true);
    }
    // Every workload with a volume waits for the class and driver; the Ingress and the mesh NLB for the controller.
    for (const workload of synth
      .workloads()
      .filter((candidate) => (candidate.spec.volumeClaimTemplates ?? []).length > 0)) {
      expect(synth.waitsFor(workload, gp3), workload.name).toBe(true);
      expect(synth.waitsFor(workload, ebs), workload.name).toBe(true);
    }
    for (const claim of synth.ofType('kubernetes:core/v1:PersistentVolumeClaim')) {
      expect(synth.waitsFor(claim, synth.one('kubernetes:storage.k8s.io/v1:StorageClass', 'addons-efs'))).toBe(true);
      const fill = synth.ofType('kubernetes:batch/v1:Job').find((job) => job.name.startsWith(`${claim.name}-`))!;
      expect(synth.waitsFor(fill, claim), fill.name).toBe(true);
    }
    const waitingOnBalancers = [
      ...synth.ofType('kubernetes:networking.k8s.io/v1:Ingress'),
      ...synth
        .ofType('kubernetes:core/v1:Service')
        .filter((service) => (service.inputs['spec'] as { type: string }).type === 'LoadBalancer'),
    ];
    for (const resource of waitingOnBalancers) expect(synth.waitsFor(resource, balancer), resource.name).toBe(true);
    // The Kubernetes provider (so every Kubernetes resource) waits for the access entries.
    for (const association of synth.ofType('aws:eks/accessPolicyAssociation:AccessPolicyAssociation'))
      expect(synth.waitsFor(synth.one('kubernetes:core/v1:Namespace'), association)).toBe(true);
  });

  it('serves the router and the UI from one ALB: their group-level settings agree, the certificate covers both names, and both point at it', () => {
    const ingresses = synth
      .ofType('kubernetes:networking.k8s.io/v1:Ingress')
      .map((ingress) => (ingress.inputs as { metadata: { annotations: Record<string, string> } }).metadata.annotations);
    expect(ingresses).toHaveLength(2);
    // The AWS Load Balancer Controller refuses a group whose Ingresses disagree on the ALB's own settings.
    const groupLevel = (annotations: Record<string, string>) =>
      Object.fromEntries(Object.entries(annotations).filter(([key]) => !key.endsWith('/healthcheck-path')));
    expect(groupLevel(ingresses[0]!)).toEqual(groupLevel(ingresses[1]!));
    expect(ingresses[0]!['alb.ingress.kubernetes.io/group.name']).toMatch(/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/);
    const hostname = config['xerotier:hostname']!;
    const dns = JSON.parse(config['xerotier:aws'] ?? '{}') as { dns?: { hostedZoneId?: string } };
    if (dns.dns?.hostedZoneId) {
      const certificate = synth.one('aws:acm/certificate:Certificate').inputs;
      expect([certificate['domainName'], ...(certificate['subjectAlternativeNames'] as string[])]).toEqual([
        hostname,
        `ui.${hostname}`,
      ]);
      const validations = synth
        .ofType('aws:route53/record:Record')
        .filter((record) => record.name.startsWith('dns-validation'));
      expect(validations).toHaveLength(2);
      const names = synth.ofType('aws:route53/record:Record').map((record) => record.inputs['name']);
      expect(names).toContain(`ui.${hostname}`);
    }
  });

  it('restricts the mesh load balancer with the real field, internal when every source is private', () => {
    const mesh = synth.one('kubernetes:core/v1:Service', 'control-plane-mesh').inputs as {
      metadata: { annotations: Record<string, string> };
      spec: { loadBalancerSourceRanges: string[]; loadBalancerClass: string };
    };
    expect(mesh.spec.loadBalancerSourceRanges).toEqual(settingsOf('mesh')['sourceCidrs']);
    expect(mesh.spec.loadBalancerClass).toBe('service.k8s.aws/nlb');
    expect(mesh.metadata.annotations).not.toHaveProperty('service.beta.kubernetes.io/aws-load-balancer-source-ranges');
    expect(mesh.metadata.annotations['service.beta.kubernetes.io/aws-load-balancer-scheme']).toBe('internal');
    const ingress = synth.one('kubernetes:networking.k8s.io/v1:Ingress', 'control-plane-router').inputs as {
      metadata: { annotations: Record<string, string> };
      spec: { ingressClassName: string };
    };
    expect(ingress.spec.ingressClassName).toBe('alb');
    expect(ingress.metadata.annotations['alb.ingress.kubernetes.io/certificate-arn']).toBe('arn:aws:mock:::dns');
  });

  it('fences agents off the data subnets and names account-wide things after the stack', () => {
    const egress = synth
      .ofType('kubernetes:networking.k8s.io/v1:NetworkPolicy')
      .filter((policy) => policy.name.endsWith('-egress'));
    for (const policy of egress) {
      const blocks = (policy.inputs['spec'] as { egress: { to?: { ipBlock?: { except?: string[] } }[] }[] }).egress
        .flatMap((rule) => rule.to ?? [])
        .flatMap((peer) => (peer.ipBlock ? [peer.ipBlock] : []));
      expect(blocks.length, policy.name).toBe(1);
      expect(blocks[0]!.except, policy.name).toEqual(
        synth.one('aws:rds/subnetGroup:SubnetGroup') &&
          synth
            .ofType('aws:ec2/subnet:Subnet')
            .filter((subnet) => subnet.name.startsWith('network-data-'))
            .map((subnet) => subnet.inputs['cidrBlock']),
      );
    }
    for (const secret of synth.ofType('aws:secretsmanager/secret:Secret'))
      expect(secret.inputs['name'] as string).toContain(`xerotier/${stack}/`);
  });
});
