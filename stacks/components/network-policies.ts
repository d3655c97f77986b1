import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { labels } from './k8s-common.js';
import { HTTP_PORT, MESH_PORTS, METRICS_PORT } from './router-env.js';
import { UI_PORT } from './web-ui.js';

export interface NetworkPoliciesArgs {
  readonly namespace: pulumi.Input<string>;
  /**
   * Addresses agents must not reach: the data subnets holding RDS, ElastiCache and EFS on aws
   * (Postgres and Redis there admit the cluster's nodes, so the pods' own boundary is here).
   * @default []
   */
  readonly protectedCidrs?: readonly string[];
  /** The trace collector's port (settings `monitoring.tracing`), which XIM agents may also reach. @default none */
  readonly collectorPort?: number;
}

type Policy = k8s.types.input.networking.v1.NetworkPolicySpec;
type Peer = k8s.types.input.networking.v1.NetworkPolicyPeer;

const component = (name: string) => ({
  matchLabels: { 'app.kubernetes.io/name': 'xerotier', 'app.kubernetes.io/component': name },
});
const anywhere = (except: readonly string[] = []): Peer => ({
  ipBlock: { cidr: '0.0.0.0/0', ...(except.length > 0 ? { except: [...except] } : {}) },
});
const tcp = (port: number) => ({ protocol: 'TCP', port });
const DNS: k8s.types.input.networking.v1.NetworkPolicyEgressRule = {
  to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }],
  ports: [{ protocol: 'UDP', port: 53 }, tcp(53)],
};

/**
 * Who may talk to whom in the platform's namespace, as allow-lists over a default deny of
 * ingress: Postgres only from the router and the migration, Redis from the router and the web
 * UI; the UI's port open to the ingress controller; the router's HTTP, mesh
 * and metrics ports open (the load balancers and agents reach it there, CURVE and TLS guard
 * them); agents accept nothing but metrics scrapes. Agents' egress is fenced too: DNS, the
 * router, and the world except the protected data CIDRs (their targets are out there; the
 * platform's data is not one of them). Needs a CNI that enforces NetworkPolicy (the VPC CNI's
 * network policy agent on aws, which the stack turns on).
 */
export class NetworkPolicies extends pulumi.ComponentResource {
  constructor(name: string, args: NetworkPoliciesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('xerotier:platform:NetworkPolicies', name, {}, opts);
    const fenced = args.protectedCidrs ?? [];
    const routerPeers: Peer[] = [{ podSelector: component('router') }, { podSelector: component('migrate') }];
    const policies: Record<string, Policy> = {
      'default-deny-ingress': { podSelector: {}, policyTypes: ['Ingress'] },
      postgres: {
        podSelector: { matchLabels: { ...labels('data', 'data-postgres') } },
        policyTypes: ['Ingress'],
        ingress: [{ from: routerPeers, ports: [tcp(5432)] }],
      },
      redis: {
        podSelector: { matchLabels: { ...labels('data', 'data-redis') } },
        policyTypes: ['Ingress'],
        // The router's rate limits, and the UI's sessions.
        ingress: [
          { from: [{ podSelector: component('router') }, { podSelector: component('frontend') }], ports: [tcp(6379)] },
        ],
      },
      router: {
        podSelector: component('router'),
        policyTypes: ['Ingress'],
        ingress: [{ ports: [tcp(HTTP_PORT), ...MESH_PORTS.map(tcp), tcp(METRICS_PORT)] }],
      },
      // The UI's own port, for the ingress controller (it holds no key: people sign in through it).
      frontend: {
        podSelector: component('frontend'),
        policyTypes: ['Ingress'],
        ingress: [{ ports: [tcp(UI_PORT)] }],
      },
      'agent-metrics': {
        podSelector: {
          matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['xim', 'xem'] }],
        },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [tcp(9094), tcp(9095)] }],
      },
      'xim-egress': agentEgress('xim', fenced, [
        tcp(443),
        ...(args.collectorPort && args.collectorPort !== 443 ? [tcp(args.collectorPort)] : []),
      ]),
      'xim-weights-egress': agentEgress('xim-weights', fenced, [tcp(443)]),
      'xem-egress': agentEgress('xem', fenced),
    };
    for (const [policy, spec] of Object.entries(policies)) {
      new k8s.networking.v1.NetworkPolicy(
        `${name}-${policy}`,
        { metadata: { namespace: args.namespace, labels: labels('network-policy') }, spec },
        { parent: this },
      );
    }
    this.registerOutputs({});
  }
}

/** An agent reaches DNS, the router (mesh, and HTTP for enrollment), and the rest of the world minus the fenced CIDRs. */
function agentEgress(agent: string, fenced: readonly string[], ports?: { protocol: string; port: number }[]): Policy {
  return {
    podSelector: component(agent),
    policyTypes: ['Egress'],
    egress: [
      DNS,
      { to: [{ podSelector: component('router') }], ports: [...MESH_PORTS.map(tcp), tcp(HTTP_PORT)] },
      { to: [anywhere(fenced)], ...(ports ? { ports } : {}) },
    ],
  };
}
