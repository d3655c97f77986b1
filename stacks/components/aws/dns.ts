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
 * The platform's names: an ACM certificate for `<hostname>` and `ui.<hostname>` (DNS-validated in
 * the zone, or one given, which must cover both), and once the load balancers exist,
 * `<hostname>` and `ui.<hostname>` → the ALB (one, shared through an ingress group) and
 * `mesh.<hostname>` → the mesh NLB. Without a zone, docs/deploy.md says which records to make.
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
      const names = [args.hostname, `ui.${args.hostname}`];
      const certificate = new aws.acm.Certificate(
        name,
        {
          domainName: args.hostname,
          subjectAlternativeNames: names.slice(1),
          validationMethod: 'DNS',
          tags: args.tags,
        },
        child,
      );
      // One validation record per name, found by its domain (ACM does not keep the options in order).
      const records = names.map((domain, index) => {
        const option = certificate.domainValidationOptions.apply((options) =>
          options.find((candidate) => candidate.domainName === domain)!,
        );
        return new aws.route53.Record(
          index === 0 ? `${name}-validation` : `${name}-validation-${index}`,
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
      });
      this.certificateArn = new aws.acm.CertificateValidation(
        name,
        { certificateArn: certificate.arn, validationRecordFqdns: records.map((record) => record.fqdn) },
        child,
      ).certificateArn;
    }
    this.registerOutputs({ certificateArn: this.certificateArn });
  }

  /** `<hostname>`, `ui.<hostname>` and `mesh.<hostname>` to the load balancers' names (CNAMEs: the zone may not be the name's apex). */
  pointAt(balancers: {
    readonly api: pulumi.Input<string>;
    readonly ui?: pulumi.Input<string>;
    readonly mesh?: pulumi.Input<string>;
  }): void {
    if (!this.args.hostedZoneId) return;
    const record = (id: string, name: string, target: pulumi.Input<string>) =>
      new aws.route53.Record(
        `${id}`,
        { zoneId: this.args.hostedZoneId!, name, type: 'CNAME', ttl: 60, records: [target] },
        { parent: this },
      );
    record('dns-api', this.args.hostname, balancers.api);
    if (balancers.ui) record('dns-ui', `ui.${this.args.hostname}`, balancers.ui);
    if (balancers.mesh) record('dns-mesh', `mesh.${this.args.hostname}`, balancers.mesh);
  }
}
