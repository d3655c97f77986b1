import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { xemAgentConfigSchema } from '../../../services/xem-agent/config.js';
import type { TracingSettings } from '../../settings/types.js';
import type { JoinKey } from '../secrets.js';
import { tracingVariables } from '../tracing-env.js';
import { serviceRole } from './iam.js';

export interface XemEc2HostArgs {
  /** `XEM_REGISTRATION_NAME`, unique per host. */
  readonly registrationName: string;
  readonly instanceType: string;
  readonly subnetId: pulumi.Input<string>;
  readonly image: string;
  readonly routerUrl: string;
  readonly joinKey: JoinKey;
  readonly region: pulumi.Input<string>;
  /** Secrets Manager names are per account and region: the join key's carries the stack. */
  readonly stack: string;
  /** A group with egress only: nothing connects to the host (SSM is outbound). */
  readonly securityGroupId: pulumi.Input<string>;
  readonly tags: Record<string, string>;
  /** OTLP export (settings `monitoring.tracing`): the endpoint must be reachable from the VPC, not only in the cluster. @default none */
  readonly tracing?: TracingSettings;
}

/**
 * One XEM agent on its own EC2 instance, next to infrastructure outside the cluster: the join
 * key waits in Secrets Manager (never in user data, which any ec2:Describe* reader sees) and only
 * this host's role may read it; the instance runs the XEM image with its state and credentials
 * on the host's disk, IMDSv2 only, in a private subnet, reachable by SSM and nothing else.
 */
export class XemEc2Host extends pulumi.ComponentResource {
  readonly instance: aws.ec2.Instance;

  constructor(name: string, args: XemEc2HostArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:XemEc2Host', name, {}, opts);
    const child = { parent: this };
    const secret = new aws.secretsmanager.Secret(
      name,
      {
        name: `xerotier/${args.stack}/xem/${args.registrationName}/join-key`,
        recoveryWindowInDays: 0,
        tags: args.tags,
      },
      child,
    );
    new aws.secretsmanager.SecretVersion(name, { secretId: secret.id, secretString: args.joinKey.key }, child);
    const role = serviceRole(this, name, 'ec2.amazonaws.com', ['AmazonSSMManagedInstanceCore'], args.tags);
    new aws.iam.RolePolicy(
      `${name}-join-key`,
      {
        role: role.name,
        policy: secret.arn.apply((arn) =>
          JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: arn }],
          }),
        ),
      },
      child,
    );
    const profile = new aws.iam.InstanceProfile(name, { role: role.name, tags: args.tags }, child);
    const ami = aws.ssm.getParameterOutput(
      { name: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64' },
      child,
    );
    const template = new aws.ec2.LaunchTemplate(
      name,
      {
        imageId: ami.value,
        instanceType: args.instanceType,
        iamInstanceProfile: { arn: profile.arn },
        metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1 },
        vpcSecurityGroupIds: [args.securityGroupId],
        blockDeviceMappings: [
          { deviceName: '/dev/xvda', ebs: { volumeSize: 30, volumeType: 'gp3', encrypted: 'true' } },
        ],
        userData: pulumi
          .all([secret.arn, args.region])
          .apply(([arn, region]) => Buffer.from(userData(args, arn, region)).toString('base64')),
        tagSpecifications: [{ resourceType: 'instance', tags: { ...args.tags, Name: args.registrationName } }],
      },
      child,
    );
    // The template's version, not `$Latest`: a new image makes a new version, and so a new host
    // (which enrolls afresh: docs/deploy.md, Rotating, on its join key).
    this.instance = new aws.ec2.Instance(
      name,
      {
        launchTemplate: { id: template.id, version: template.latestVersion.apply(String) },
        subnetId: args.subnetId,
        tags: { ...args.tags, Name: args.registrationName },
      },
      child,
    );
    this.registerOutputs({ instanceId: this.instance.id });
  }
}

/** The boot script: Docker, the join key from Secrets Manager, the agent as a restarting container. */
export function userData(
  args: Pick<XemEc2HostArgs, 'registrationName' | 'image' | 'routerUrl' | 'tracing'>,
  joinKeyArn: string,
  region: string,
): string {
  const keys = xemAgentConfigSchema.keys;
  const env = [
    [keys.router_url.env, args.routerUrl],
    [keys.registration_name.env, args.registrationName],
    [keys.tools_dir.env, '/opt/xerotier/tools'],
    [keys.credentials_dir.env, '/var/lib/xerotier/credentials'],
    [keys.signing_key_path.env, '/var/lib/xerotier/state/agent-signing-key.hex'],
    [keys.curve_key_path.env, '/var/lib/xerotier/state/agent-curve-key.hex'],
    [keys.queue_db_path.env, '/var/lib/xerotier/state/queue.sqlite'],
    ...tracingVariables(args.tracing),
  ];
  return [
    '#!/bin/bash',
    'set -euo pipefail',
    'dnf install -y docker && systemctl enable --now docker',
    'install -d -o 5153 -g 5153 -m 0700 /var/lib/xerotier/state /var/lib/xerotier/credentials',
    `install -m 0600 /dev/null /run/xem.env && echo "${keys.join_key.env}=$(aws secretsmanager get-secret-value --region ${region} --secret-id '${joinKeyArn}' --query SecretString --output text)" > /run/xem.env`,
    `docker run -d --name xem-agent --restart=always --read-only --tmpfs /tmp --env-file /run/xem.env ${env.map(([name, value]) => `-e ${name}='${value}'`).join(' ')} \\`,
    `  -v /var/lib/xerotier/state:/var/lib/xerotier/state -v /var/lib/xerotier/credentials:/var/lib/xerotier/credentials:ro ${args.image}`,
    '',
  ].join('\n');
}
