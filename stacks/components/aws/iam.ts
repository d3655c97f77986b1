import * as aws from '@pulumi/aws';
import type * as pulumi from '@pulumi/pulumi';

/** A role a service (`eks.amazonaws.com`, `ec2.amazonaws.com`, …) assumes, with AWS-managed policies attached. */
export function serviceRole(parent: pulumi.Resource, name: string, service: string, managedPolicies: readonly string[], tags: Record<string, string>): aws.iam.Role {
  const role = new aws.iam.Role(name, {
    assumeRolePolicy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] }), tags,
  }, { parent });
  for (const policy of managedPolicies) new aws.iam.RolePolicyAttachment(`${name}-${policy}`, { role: role.name, policyArn: `arn:aws:iam::aws:policy/${policy}` }, { parent });
  return role;
}
