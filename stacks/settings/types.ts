/**
 * StackSettings: one stack file's settings after validation and defaults — what the components
 * are built from. Every field is filled; optional means "this stack does not have one".
 */
export type Target = 'aws' | 'kubernetes';
export type Environment = 'dev' | 'staging' | 'prod' | 'preview';
export type KubernetesAccess = 'none' | 'read' | 'operate';

export interface XimModel {
  readonly name: string;
  /** Hugging Face id (or a path the cache already holds). */
  readonly model: string;
  /** Hugging Face commit to pin the weights to; the repository's main when absent. */
  readonly revision?: string;
  readonly replicas: number;
  readonly gpus: number;
  readonly maxNumSeqs: number;
  readonly maxModelLen: number;
  readonly vllmArgs: readonly string[];
  readonly weightsGi: number;
  readonly cacheSizeGi: number;
  /** Hugging Face gates the model: vLLM needs HF_TOKEN (xerotier:huggingFaceToken). */
  readonly gated: boolean;
  /**
   * Where its pods run: node labels. aws: its GPU pool's (one node group per GPU type); kubernetes:
   * as set, e.g. `nvidia.com/gpu.product: NVIDIA-L4` where GPU feature discovery labels nodes.
   */
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** GPU memory per GPU, for the fit check (from the instance type on aws). */
  readonly gpuMemoryGi?: number;
  readonly resources: { readonly cpu: string; readonly memory: string };
}

export interface XemHost {
  readonly name: string;
  readonly replicas: number;
  /** Runs the `kubernetes` bundle against this cluster: gets a service account with RBAC. */
  readonly kubernetesAccess: KubernetesAccess;
  /** Namespaces its Roles cover (never the platform's own). */
  readonly targetNamespaces: readonly string[];
  /** `operate` may patch only these Deployments/StatefulSets when listed (RBAC resourceNames). */
  readonly operateResources: readonly string[];
  /** Workspaces it serves: one credentials Secret each, mounted as credentials/<workspace>/. */
  readonly workspaces: readonly string[];
}

export interface XemEc2Hosts {
  readonly name: string;
  readonly count: number;
  readonly instanceType: string;
}

export interface NodeGroupSize {
  readonly instanceType: string;
  readonly min: number;
  readonly max: number;
}

export interface GpuNodePool extends NodeGroupSize {
  readonly name: string;
}

export interface AwsSettings {
  readonly region: string;
  readonly vpcCidr: string;
  readonly azCount: number;
  readonly eksVersion: string;
  readonly clusterAdmins: readonly string[];
  readonly endpointPublicAccessCidrs: readonly string[];
  readonly cpuNodes: NodeGroupSize;
  readonly gpuNodePools: readonly GpuNodePool[];
  readonly dns: { readonly hostedZoneId?: string; readonly certificateArn?: string };
}

export interface StackSettings {
  readonly target: Target;
  readonly environment: Environment;
  readonly namespace: string;
  readonly hostname: string;
  readonly bootstrapProject: string;
  readonly images: { readonly registry: string; readonly tag: string };
  readonly router: {
    readonly replicas: number;
    readonly maxReplicas: number;
    readonly cpu: string;
    readonly memory: string;
    readonly webhooksAllowedTargets: readonly string[];
  };
  /** The web UI at `https://ui.<hostname>`, its sessions in the platform's Redis. */
  readonly frontend: {
    readonly enabled: boolean;
    readonly replicas: number;
    readonly cpu: string;
    readonly memory: string;
  };
  /** kubernetes target: the cluster's ingress class and cert-manager issuer (checked to exist). */
  readonly ingress: {
    readonly className: string;
    readonly tlsIssuer: string;
    readonly annotations: Readonly<Record<string, string>>;
  };
  /** The mesh load balancer for agents outside the cluster; in-cluster agents use the internal Service. */
  readonly mesh: { readonly expose: boolean; readonly sourceCidrs: readonly string[] };
  readonly database: {
    readonly external: boolean;
    readonly storageGi: number;
    readonly instanceClass: string;
    readonly multiAz: boolean;
    readonly deletionProtection: boolean;
  };
  readonly cache: { readonly external: boolean; readonly nodeType: string };
  /** Storage classes: RWO for state volumes, RWX for shared model caches (aws: created by the stack). */
  readonly storage: { readonly className?: string; readonly sharedClassName?: string };
  readonly ximFleet: readonly XimModel[];
  readonly xemHosts: readonly XemHost[];
  readonly xemEc2Hosts: readonly XemEc2Hosts[];
  /** Prometheus Operator PodMonitors; OTLP traces from the router and every agent when `tracing` is set. */
  readonly monitoring: { readonly podMonitors: boolean; readonly tracing?: TracingSettings };
  /** Bump a number to rotate that generated secret (a new value on the next `up`). */
  readonly rotation: {
    readonly databaseApp: number;
    readonly databaseOwner: number;
    readonly cache: number;
    /** The token-signing key's generation; the previous generation is still accepted while tokenSigningOverlap. */
    readonly tokenSigning: number;
    readonly tokenSigningOverlap: boolean;
  };
  /** Set when the stack's config holds a Hugging Face token (xerotier:huggingFaceToken, secret). */
  readonly huggingFaceToken: boolean;
  readonly aws?: AwsSettings;
}

/** Where every service sends its spans (XEROTIER_OTEL_*), and the share of root traces sampled. */
export interface TracingSettings {
  readonly endpoint: string;
  readonly sampleRate: number;
  /** The collector for hosts outside the cluster; absent, they use `endpoint` unless it is a cluster-only name. */
  readonly outsideEndpoint?: string;
}
