import type * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import { isPrivate, parseCidr } from '../rules/cidr.js';

/**
 * How the router is reached from outside the cluster, decided per target: the HTTPS API through
 * an Ingress of some class (the AWS Load Balancer Controller's ALB with an ACM certificate, or
 * the cluster's own controller with a cert-manager certificate), and optionally the mesh port
 * through a TCP load balancer that admits only `sourceRanges`. In-cluster agents never use these
 * for the mesh: they dial the router's internal Service.
 */
export interface RouterExposure {
  readonly ingress: {
    readonly className: string;
    readonly annotations: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** cert-manager issues the certificate into a Secret (kubernetes target); absent, the load balancer terminates TLS. */
    readonly certManagerIssuer?: string;
  };
  /** The mesh load balancer; absent, only in-cluster agents can reach the mesh. */
  readonly mesh?: {
    readonly annotations: Record<string, string>;
    readonly loadBalancerClass?: string;
    readonly sourceRanges: readonly string[];
  };
}

/**
 * An Ingress spec sending every path of `host` to a Service's `http` port, on the exposure's
 * class, with a cert-manager certificate in `tlsSecret` when the exposure uses one.
 */
export function hostIngressSpec(
  exposure: RouterExposure,
  host: string,
  service: pulumi.Input<string>,
  tlsSecret: string,
): k8s.types.input.networking.v1.IngressSpec {
  const { ingress } = exposure;
  return {
    ingressClassName: ingress.className,
    ...(ingress.certManagerIssuer ? { tls: [{ hosts: [host], secretName: tlsSecret }] } : {}),
    rules: [
      {
        host,
        http: {
          paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: service, port: { name: 'http' } } } }],
        },
      },
    ],
  };
}

/** aws: one internet-facing ALB for HTTPS (ACM) for the router and the UI, an NLB for the mesh, internal unless a source is public. */
export function awsExposure(
  certificateArn: pulumi.Input<string>,
  mesh: { expose: boolean; sourceCidrs: readonly string[] },
  namespace: string,
): RouterExposure {
  const scheme = mesh.sourceCidrs.every((cidr) => isPrivate(parseCidr(cidr))) ? 'internal' : 'internet-facing';
  return {
    ingress: {
      className: 'alb',
      annotations: {
        'alb.ingress.kubernetes.io/scheme': 'internet-facing',
        // The router's and the UI's Ingresses share one ALB (and its certificate).
        'alb.ingress.kubernetes.io/group.name': `xerotier-${namespace}`,
        'alb.ingress.kubernetes.io/target-type': 'ip',
        'alb.ingress.kubernetes.io/listen-ports': '[{"HTTPS":443}]',
        'alb.ingress.kubernetes.io/certificate-arn': certificateArn,
        'alb.ingress.kubernetes.io/ssl-policy': 'ELBSecurityPolicy-TLS13-1-2-2021-06',
        'alb.ingress.kubernetes.io/healthcheck-path': '/readyz',
        // Streams (SSE) stay open for as long as a generation takes.
        'alb.ingress.kubernetes.io/load-balancer-attributes': 'idle_timeout.timeout_seconds=3600',
      },
    },
    ...(mesh.expose
      ? {
          mesh: {
            annotations: {
              'service.beta.kubernetes.io/aws-load-balancer-type': 'external',
              'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip',
              'service.beta.kubernetes.io/aws-load-balancer-scheme': scheme,
            },
            loadBalancerClass: 'service.k8s.aws/nlb',
            sourceRanges: mesh.sourceCidrs,
          },
        }
      : {}),
  };
}

/** kubernetes: the cluster's ingress class and cert-manager issuer; a plain LoadBalancer for the mesh. */
export function clusterExposure(
  ingress: { className: string; tlsIssuer: string; annotations: Readonly<Record<string, string>> },
  mesh: { expose: boolean; sourceCidrs: readonly string[] },
): RouterExposure {
  return {
    ingress: {
      className: ingress.className,
      annotations: { ...ingress.annotations, 'cert-manager.io/cluster-issuer': ingress.tlsIssuer },
      certManagerIssuer: ingress.tlsIssuer,
    },
    ...(mesh.expose ? { mesh: { annotations: {}, sourceRanges: mesh.sourceCidrs } } : {}),
  };
}
