import Type, { type Static, type TSchema } from 'typebox';
import { CIDR_PATTERN } from '../rules/cidr.js';

/**
 * The shape of every `xerotier:*` key a stack file may set, as TypeBox schemas: types, ranges and
 * names, strict (an unknown field is a typo worth naming). Everything is optional here; the
 * defaults (settings/defaults.ts) fill what a stack file leaves out, and settings/checks.ts
 * judges what depends on more than one key. Pulumi.yaml declares exactly these keys.
 */
const strict = { additionalProperties: false } as const;
const int = (minimum: number, maximum: number) => Type.Integer({ minimum, maximum });
const opt = <T extends TSchema>(schema: T) => Type.Optional(schema);

export const LABEL = '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$';
const Label = Type.String({ pattern: LABEL, description: 'a DNS label of up to 40 characters' });
const Cidr = Type.String({ pattern: CIDR_PATTERN, description: 'an IPv4 CIDR block' });
const Quantity = Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$', description: 'a Kubernetes quantity' });
const Hostname = Type.String({ pattern: '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$', maxLength: 253 });
const RoleArn = Type.String({ pattern: '^arn:aws[a-z-]*:iam::\\d{12}:role/[\\w+=,.@/-]+$' });
const Workspace = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$',
  description: 'a workspace id (its credentials folder)',
});

const NodeGroup = Type.Object(
  { instanceType: Type.String({ minLength: 3 }), min: int(0, 100), max: int(1, 100) },
  strict,
);

export const XimModelSchema = Type.Object(
  {
    name: Label,
    model: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9._-]+)?$', maxLength: 200 }),
    revision: opt(Type.String({ pattern: '^[0-9a-f]{40}$', description: 'a Hugging Face commit' })),
    replicas: opt(int(0, 64)),
    gpus: opt(int(1, 8)),
    maxNumSeqs: opt(int(1, 4096)),
    maxModelLen: opt(int(256, 1_048_576)),
    vllmArgs: opt(Type.Array(Type.String({ maxLength: 512 }), { maxItems: 64 })),
    weightsGi: opt(Type.Number({ exclusiveMinimum: 0, maximum: 4096 })),
    cacheSizeGi: opt(int(1, 16_384)),
    gated: opt(Type.Boolean()),
    nodePool: opt(Label),
    nodeSelector: opt(Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 63 }))),
    gpuMemoryGi: opt(Type.Number({ exclusiveMinimum: 0, maximum: 1024 })),
    resources: opt(Type.Object({ cpu: Quantity, memory: Quantity }, strict)),
  },
  strict,
);

export const XemHostSchema = Type.Object(
  {
    name: Label,
    replicas: opt(int(0, 32)),
    kubernetesAccess: opt(Type.Enum(['none', 'read', 'operate'])),
    targetNamespaces: opt(Type.Array(Label, { maxItems: 64, uniqueItems: true })),
    operateResources: opt(Type.Array(Label, { maxItems: 256, uniqueItems: true })),
    workspaces: opt(Type.Array(Workspace, { maxItems: 256, uniqueItems: true })),
  },
  strict,
);

export const SETTINGS_SCHEMA = {
  target: Type.Enum(['aws', 'kubernetes']),
  environment: Type.Enum(['dev', 'staging', 'prod', 'preview']),
  hostname: Hostname,
  namespace: Label,
  bootstrapProject: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
  images: Type.Object(
    {
      registry: opt(Type.String({ pattern: '^[a-z0-9.-]+(:\\d+)?(/[a-z0-9._-]+)*$' })),
      tag: opt(Type.String({ minLength: 1, maxLength: 128 })),
    },
    strict,
  ),
  router: Type.Object(
    {
      replicas: opt(int(1, 100)),
      maxReplicas: opt(int(1, 100)),
      cpu: opt(Quantity),
      memory: opt(Quantity),
      webhooksAllowedTargets: opt(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 64 })),
    },
    strict,
  ),
  ingress: Type.Object(
    {
      className: opt(Type.String({ pattern: LABEL })),
      tlsIssuer: opt(Type.String({ minLength: 1 })),
      annotations: opt(Type.Record(Type.String(), Type.String())),
    },
    strict,
  ),
  mesh: Type.Object({ expose: opt(Type.Boolean()), sourceCidrs: opt(Type.Array(Cidr, { maxItems: 60 })) }, strict),
  database: Type.Object(
    {
      external: opt(Type.Boolean()),
      storageGi: opt(int(5, 65_536)),
      instanceClass: opt(Type.String({ pattern: '^db\\.[a-z0-9]+\\.[a-z0-9]+$' })),
      multiAz: opt(Type.Boolean()),
      deletionProtection: opt(Type.Boolean()),
    },
    strict,
  ),
  cache: Type.Object(
    { external: opt(Type.Boolean()), nodeType: opt(Type.String({ pattern: '^cache\\.[a-z0-9]+\\.[a-z0-9]+$' })) },
    strict,
  ),
  storage: Type.Object({ className: opt(Label), sharedClassName: opt(Label) }, strict),
  ximFleet: Type.Array(XimModelSchema, { maxItems: 32 }),
  xemHosts: Type.Array(XemHostSchema, { maxItems: 32 }),
  xemEc2Hosts: Type.Array(
    Type.Object({ name: Label, count: opt(int(0, 16)), instanceType: opt(Type.String({ minLength: 3 })) }, strict),
    { maxItems: 16 },
  ),
  monitoring: Type.Object(
    {
      podMonitors: opt(Type.Boolean()),
      tracing: opt(
        Type.Object(
          {
            endpoint: Type.String({
              pattern: '^https?://[^\\s/?#]+(:[0-9]{1,5})?(/[^\\s?#]*)?$',
              maxLength: 2048,
              description: 'an OTLP/HTTP traces URL, e.g. http://otel-collector.observability:4318/v1/traces',
            }),
            sampleRate: opt(Type.Number({ minimum: 0, maximum: 1 })),
            outsideEndpoint: opt(
              Type.String({
                pattern: '^https?://[^\\s/?#]+(:[0-9]{1,5})?(/[^\\s?#]*)?$',
                maxLength: 2048,
                description: 'the collector as hosts outside the cluster (XEM on EC2) reach it',
              }),
            ),
          },
          strict,
        ),
      ),
    },
    strict,
  ),
  rotation: Type.Object(
    {
      databaseApp: opt(int(0, 1000)),
      databaseOwner: opt(int(0, 1000)),
      cache: opt(int(0, 1000)),
      tokenSigning: opt(int(0, 1000)),
      tokenSigningOverlap: opt(
        Type.Boolean({
          description: 'keep accepting the previous token-signing key (default true); false once agents moved',
        }),
      ),
      curve: opt(int(0, 1000)),
      curveNext: opt(
        Type.Boolean({
          description:
            'serve the next CURVE key generation beside the current one, so `xeroctl agents curve-rotate` can move agents (docs/fleet.md)',
        }),
      ),
    },
    strict,
  ),
  frontend: Type.Object(
    {
      enabled: opt(Type.Boolean({ description: 'the web UI at https://ui.<hostname> (default true)' })),
      replicas: opt(int(1, 20)),
      cpu: opt(Quantity),
      memory: opt(Quantity),
    },
    strict,
  ),
  aws: Type.Object(
    {
      vpcCidr: opt(Cidr),
      azCount: opt(int(2, 3)),
      eksVersion: opt(Type.String({ pattern: '^1\\.\\d+$' })),
      clusterAdmins: opt(Type.Array(RoleArn, { maxItems: 16, uniqueItems: true })),
      endpointPublicAccessCidrs: opt(Type.Array(Cidr, { minItems: 1, maxItems: 40 })),
      cpuNodes: opt(NodeGroup),
      gpuNodePools: opt(
        Type.Array(
          Type.Object(
            { name: Label, instanceType: Type.String({ minLength: 3 }), min: int(0, 64), max: int(1, 64) },
            strict,
          ),
          { maxItems: 8 },
        ),
      ),
      dns: opt(
        Type.Object(
          {
            hostedZoneId: opt(Type.String({ pattern: '^Z[A-Z0-9]{4,32}$' })),
            certificateArn: opt(
              Type.String({ pattern: '^arn:aws[a-z-]*:acm:[a-z0-9-]+:\\d{12}:certificate/[0-9a-f-]+$' }),
            ),
          },
          strict,
        ),
      ),
    },
    strict,
  ),
} as const;

export type SettingsKey = keyof typeof SETTINGS_SCHEMA;
export type RawSettings = { readonly [K in SettingsKey]?: Static<(typeof SETTINGS_SCHEMA)[K]> };
export type RawXimModel = Static<typeof XimModelSchema>;
export type RawXemHost = Static<typeof XemHostSchema>;

/** Keys the program reads as Pulumi secrets (never in the schema, never with a default). */
export const SECRET_KEYS = ['kubeconfig', 'databaseUrl', 'redisUrl', 'huggingFaceToken'] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];
