import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { hostIngressSpec, type RouterExposure } from './exposure.js';
import { MESH_PORTS, METRICS_PORT } from './router-env.js';

// Both mesh ports, always: a CURVE rotation serves the next key on the other one (docs/fleet.md).
const MESH_SERVICE_PORTS = [
  { name: 'mesh', port: MESH_PORTS[0], targetPort: 'mesh', protocol: 'TCP' },
  { name: 'mesh-alt', port: MESH_PORTS[1], targetPort: 'mesh-alt', protocol: 'TCP' },
];

export interface RouterServicesArgs {
  readonly namespace: pulumi.Input<string>;
  readonly hostname: string;
  /** The router pods' labels. */
  readonly selector: Record<string, string>;
  readonly exposure: RouterExposure;
}

/**
 * Ways in to the router: the HTTP Service behind a TLS Ingress (`https://<hostname>`), the mesh
 * as an internal Service for agents in the cluster, and, when exposed, a TCP load balancer for
 * the mesh that admits only the configured source ranges (`spec.loadBalancerSourceRanges`, which
 * the AWS Load Balancer Controller and cloud controllers honour).
 */
export class RouterServices extends pulumi.ComponentResource {
  readonly http: k8s.core.v1.Service;
  readonly internalMesh: k8s.core.v1.Service;
  readonly ingress: k8s.networking.v1.Ingress;
  readonly meshBalancer?: k8s.core.v1.Service;

  constructor(name: string, args: RouterServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:RouterServices', name, {}, opts);
    const child = { parent: this };
    const metadata = { namespace: args.namespace, labels: args.selector };
    this.http = new k8s.core.v1.Service(
      `${name}-router`,
      {
        metadata,
        spec: {
          type: 'ClusterIP',
          selector: args.selector,
          ports: [
            { name: 'http', port: 80, targetPort: 'http' },
            { name: 'metrics', port: METRICS_PORT, targetPort: 'metrics' },
          ],
        },
      },
      child,
    );
    this.internalMesh = new k8s.core.v1.Service(
      `${name}-mesh-internal`,
      {
        metadata,
        spec: {
          type: 'ClusterIP',
          selector: args.selector,
          ports: MESH_SERVICE_PORTS,
        },
      },
      child,
    );
    const mesh = args.exposure.mesh;
    if (mesh) {
      this.meshBalancer = new k8s.core.v1.Service(
        `${name}-mesh`,
        {
          metadata: { ...metadata, annotations: mesh.annotations },
          spec: {
            type: 'LoadBalancer',
            selector: args.selector,
            ...(mesh.loadBalancerClass ? { loadBalancerClass: mesh.loadBalancerClass } : {}),
            loadBalancerSourceRanges: [...mesh.sourceRanges],
            ports: MESH_SERVICE_PORTS,
          },
        },
        child,
      );
    }
    const { ingress } = args.exposure;
    this.ingress = new k8s.networking.v1.Ingress(
      `${name}-router`,
      {
        metadata: { ...metadata, annotations: ingress.annotations },
        spec: hostIngressSpec(args.exposure, args.hostname, this.http.metadata.name, `${name}-router-tls`),
      },
      child,
    );
    this.registerOutputs({});
  }

  /** The load balancer's DNS name, once the controller has made it (the provider waits for it). */
  static hostnameOf(
    status: pulumi.Output<{ loadBalancer?: { ingress?: { hostname?: string; ip?: string }[] } } | undefined>,
  ): pulumi.Output<string> {
    return status.apply(
      (value) => value?.loadBalancer?.ingress?.[0]?.hostname ?? value?.loadBalancer?.ingress?.[0]?.ip ?? '',
    );
  }
}
