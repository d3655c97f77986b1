import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface DnsArgs {
  readonly hostname: string;
  /** The Route 53 zone the hostname is in; the stack validates the certificate and writes the records there. @default none (then certificateArn) */
  readonly hostedZoneId?: string;
  /** An ACM certificate for the hostname made elsewhere; the records are then yours to make. @default none (then hostedZoneId) */
  readonly certificateArn?: string;
  readonly tags: Record<string, string>;
}

/**
 * The router's names: an ACM certificate for `<hostname>` (DNS-validated in the zone, or one
 * given), and once the load balancers exist, `<hostname>` → the ALB and `mesh.<hostname>` → the
 * mesh NLB. Without a zone, docs/deploy.md says which two records to make.
 */
export class Dns extends pulumi.ComponentResource {
  readonly certificateArn: pulumi.Output<string>;
  private readonly args: DnsArgs;

  constructor(name: string, args: DnsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:aws:Dns', name, {}, opts);
    this.args = args;
    if (args.certificateArn) {
      this.certificateArn = pulumi.output(args.certificateArn);
    } else {
      const child = { parent: this };
      const certificate = new aws.acm.Certificate(
        name,
        { domainName: args.hostname, validationMethod: 'DNS', tags: args.tags },
        child,
      );
      const option = certificate.domainValidationOptions.apply((options) => options[0]!);
      const record = new aws.route53.Record(
        `${name}-validation`,
        {
          zoneId: args.hostedZoneId!,
          name: option.resourceRecordName,
          type: option.resourceRecordType,
          records: [option.resourceRecordValue],
          ttl: 300,
          allowOverwrite: true,
        },
        child,
      );
      this.certificateArn = new aws.acm.CertificateValidation(
        name,
        { certificateArn: certificate.arn, validationRecordFqdns: [record.fqdn] },
        child,
      ).certificateArn;
    }
    this.registerOutputs({ certificateArn: this.certificateArn });
  }

  /** `<hostname>` and `mesh.<hostname>` to the load balancers' names (CNAMEs: the zone may not be the name's apex). */
  pointAt(balancers: { readonly api: pulumi.Input<string>; readonly mesh?: pulumi.Input<string> }): void {
    if (!this.args.hostedZoneId) return;
    const record = (id: string, name: string, target: pulumi.Input<string>) =>
      new aws.route53.Record(
        `${id}`,
        { zoneId: this.args.hostedZoneId!, name, type: 'CNAME', ttl: 60, records: [target] },
        { parent: this },
      );
    record('dns-api', this.args.hostname, balancers.api);
    if (balancers.mesh) record('dns-mesh', `mesh.${this.args.hostname}`, balancers.mesh);
  }
}
