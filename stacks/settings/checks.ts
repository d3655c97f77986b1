import { isPrivate, overlaps, parseCidr } from '../rules/cidr.js';
import { GPU_INSTANCES } from '../rules/gpu.js';
import { cacheFits, gpuFit, KNOWN_MODELS } from '../rules/models.js';
import { EKS_VERSIONS, immutableTag, ROUTER_REPLICA_LIMIT } from '../rules/platform.js';
import { VPC_PREFIX } from '../rules/vpc-plan.js';
import type { AwsSettings, StackSettings } from './types.js';
import { SettingsError } from './validate.js';

/**
 * What depends on more than one key, judged on the filled settings. Each check returns the
 * problems it finds (key and message); readSettings throws the first. Pure.
 */
type Problem = SettingsError;
const problem = (key: string, message: string) => new SettingsError(key, message);

export function settingsProblems(settings: StackSettings): Problem[] {
  return [
    ...imageProblems(settings),
    ...routerProblems(settings),
    ...openMesh(settings),
    ...ingressProblems(settings),
    ...fleetProblems(settings),
    ...xemProblems(settings),
    ...(settings.aws ? awsProblems(settings, settings.aws) : []),
  ];
}

function imageProblems(settings: StackSettings): Problem[] {
  const { tag } = settings.images;
  if (!tag)
    return [problem('images.tag', 'is required: the commit SHA CI built the images from (or a sha256: digest)')];
  return immutableTag(tag)
    ? []
    : [problem('images.tag', `"${tag}" can be re-pushed: deploy a commit SHA (7-40 hex digits) or a sha256: digest`)];
}

function routerProblems(settings: StackSettings): Problem[] {
  const { replicas, maxReplicas } = settings.router;
  const limit = `more replicas than the fleet was measured with (ROUTER_REPLICA_LIMIT = ${ROUTER_REPLICA_LIMIT}, docs/fleet.md)`;
  if (replicas > ROUTER_REPLICA_LIMIT)
    return [problem('router.replicas', `${replicas} is more than ${ROUTER_REPLICA_LIMIT}: ${limit}`)];
  if (maxReplicas > ROUTER_REPLICA_LIMIT)
    return [problem('router.maxReplicas', `${maxReplicas} is more than ${ROUTER_REPLICA_LIMIT}: ${limit}`)];
  return maxReplicas < replicas
    ? [problem('router.maxReplicas', `must be at least router.replicas (${replicas})`)]
    : [];
}

function ingressProblems(settings: StackSettings): Problem[] {
  if (settings.target !== 'kubernetes') return [];
  if (!settings.database.external && settings.rotation.databaseOwner > 0)
    return [
      problem(
        'rotation.databaseOwner',
        'cannot rotate the in-cluster Postgres superuser: Postgres reads POSTGRES_PASSWORD only when it initializes (docs/deploy.md, Rotating)',
      ),
    ];
  const problems = settings.ingress.className
    ? []
    : [
        problem(
          'ingress.className',
          "is required on the kubernetes target: the cluster's IngressClass (checked to exist at deploy)",
        ),
      ];
  if (settings.mesh.expose && settings.mesh.sourceCidrs.length === 0)
    problems.push(
      problem('mesh.sourceCidrs', 'is required when mesh.expose is true: where agents outside the cluster dial from'),
    );
  return problems;
}

function fleetProblems(settings: StackSettings): Problem[] {
  return settings.ximFleet.flatMap((model, index): Problem[] => {
    const key = `ximFleet[${index}]`;
    if (settings.ximFleet.findIndex((other) => other.name === model.name) !== index)
      return [problem(`${key}.name`, `"${model.name}" is used twice: model names must be unique`)];
    if (model.weightsGi <= 0)
      return [
        problem(`${key}.weightsGi`, `is required for ${model.model}: its size is not known here (bf16 bytes / 2^30)`),
      ];
    if (!cacheFits(model.weightsGi, model.cacheSizeGi))
      return [
        problem(
          `${key}.cacheSizeGi`,
          `${model.cacheSizeGi} Gi cannot hold ${model.model} (${model.weightsGi} GiB of weights, with 10% to spare)`,
        ),
      ];
    if (model.gated && !settings.huggingFaceToken)
      return [
        problem(
          'huggingFaceToken',
          `is required (pulumi config set --secret xerotier:huggingFaceToken hf_…): ${key} ${model.model} is gated on Hugging Face`,
        ),
      ];
    if (model.gpuMemoryGi === undefined) return [];
    const fit = gpuFit(
      {
        weightsGi: model.weightsGi,
        maxModelLen: model.maxModelLen,
        ...(KNOWN_MODELS[model.model] ? { kvKiBPerToken: KNOWN_MODELS[model.model]!.kvKiBPerToken } : {}),
      },
      model.gpus,
      model.gpuMemoryGi,
    );
    return fit.ok
      ? []
      : [
          problem(
            `${key}.gpus`,
            `${model.model}: ${fit.reason}; use more or larger GPUs, a quantized model or a smaller maxModelLen`,
          ),
        ];
  });
}

function xemProblems(settings: StackSettings): Problem[] {
  return settings.xemHosts.flatMap((host, index): Problem[] => {
    const key = `xemHosts[${index}]`;
    if (settings.xemHosts.findIndex((other) => other.name === host.name) !== index)
      return [problem(`${key}.name`, `"${host.name}" is used twice`)];
    if (host.targetNamespaces.includes(settings.namespace))
      return [
        problem(
          `${key}.targetNamespaces`,
          `may not include the platform's own namespace ${settings.namespace}: an agent that runs model-proposed tools must not reach the router's Secrets`,
        ),
      ];
    if (host.kubernetesAccess !== 'none' && host.targetNamespaces.length === 0)
      return [
        problem(
          `${key}.targetNamespaces`,
          `is required for kubernetesAccess ${host.kubernetesAccess}: the namespaces its Roles cover`,
        ),
      ];
    return [];
  });
}

function awsProblems(settings: StackSettings, aws: AwsSettings): Problem[] {
  if (!aws.vpcCidr)
    return [
      problem(
        'aws.vpcCidr',
        `is required: ${aws.region || 'this region'} has no default (stacks/rules/vpc-plan.ts REGIONS)`,
      ),
    ];
  const vpc = parseCidr(aws.vpcCidr);
  if (!isPrivate(vpc) || vpc.prefix < VPC_PREFIX.min || vpc.prefix > VPC_PREFIX.max)
    return [
      problem(
        'aws.vpcCidr',
        `${aws.vpcCidr} must be a private (RFC 1918) block from /${VPC_PREFIX.min} to /${VPC_PREFIX.max}`,
      ),
    ];
  if (!(EKS_VERSIONS as readonly string[]).includes(aws.eksVersion))
    return [
      problem('aws.eksVersion', `${aws.eksVersion} is not in EKS standard support; one of ${EKS_VERSIONS.join(', ')}`),
    ];
  if (aws.clusterAdmins.length === 0)
    return [
      problem(
        'aws.clusterAdmins',
        "is required: the IAM roles that run `pulumi up` (CI's deploy role) and administer the cluster get access entries; nobody else can reach it",
      ),
    ];
  if (Boolean(aws.dns.hostedZoneId) === Boolean(aws.dns.certificateArn))
    return [
      problem(
        'aws.dns',
        'needs exactly one of hostedZoneId (the stack makes the certificate and DNS records) or certificateArn (an ACM certificate for the hostname; you make the records)',
      ),
    ];
  if (settings.database.external || settings.cache.external)
    return [
      problem(
        settings.database.external ? 'database.external' : 'cache.external',
        'is for the kubernetes target: on aws the stack creates RDS and ElastiCache',
      ),
    ];
  return [...poolProblems(settings, aws), ...meshProblems(settings, aws)];
}

function poolProblems(settings: StackSettings, aws: AwsSettings): Problem[] {
  const problems = aws.gpuNodePools.flatMap((pool, index): Problem[] => {
    const instance = GPU_INSTANCES[pool.instanceType];
    if (pool.name === 'cpu' || aws.gpuNodePools.findIndex((other) => other.name === pool.name) !== index)
      return [
        problem(
          `aws.gpuNodePools[${index}].name`,
          `"${pool.name}" is taken (by the CPU nodes or another pool): pool names are node labels`,
        ),
      ];
    if (!instance)
      return [
        problem(
          `aws.gpuNodePools[${index}].instanceType`,
          `${pool.instanceType} is not a known GPU instance; one of ${Object.keys(GPU_INSTANCES).join(', ')}`,
        ),
      ];
    if (pool.max < pool.min) return [problem(`aws.gpuNodePools[${index}].max`, `must be at least min (${pool.min})`)];
    const models = settings.ximFleet.filter((model) => model.nodeSelector['xerotier.io/pool'] === pool.name);
    const demand = models.reduce((sum, model) => sum + model.replicas * model.gpus, 0);
    const tooWide = models.find((model) => model.gpus > instance.gpus);
    if (tooWide)
      return [
        problem(
          `aws.gpuNodePools[${index}].instanceType`,
          `${pool.instanceType} has ${instance.gpus} GPUs; ${tooWide.name} asks for ${tooWide.gpus} in one pod`,
        ),
      ];
    // No autoscaler: the pool's minimum is the capacity there is.
    return demand > pool.min * instance.gpus
      ? [
          problem(
            `aws.gpuNodePools[${index}].min`,
            `${pool.min} × ${instance.gpus} GPUs cannot host ${demand} GPUs of ${models.map((model) => model.name).join(', ')}`,
          ),
        ]
      : [];
  });
  const unplaced = settings.ximFleet.findIndex(
    (model) => !aws.gpuNodePools.some((pool) => pool.name === model.nodeSelector['xerotier.io/pool']),
  );
  if (unplaced >= 0)
    problems.push(
      problem(
        `ximFleet[${unplaced}].nodePool`,
        `names no entry of aws.gpuNodePools (${aws.gpuNodePools.map((pool) => pool.name).join(', ') || 'none'})`,
      ),
    );
  return problems;
}

/** The mesh admits only enrolled CURVE keys, but it is no service for the whole internet to knock on. */
function openMesh(settings: StackSettings): Problem[] {
  const open = settings.mesh.sourceCidrs.find((cidr) => parseCidr(cidr).prefix === 0);
  return open
    ? [
        problem(
          'mesh.sourceCidrs',
          `${open} opens the mesh port to the internet; list where agents outside the cluster dial from`,
        ),
      ]
    : [];
}

function meshProblems(settings: StackSettings, aws: AwsSettings): Problem[] {
  const vpc = parseCidr(aws.vpcCidr);
  return settings.xemEc2Hosts.length > 0 &&
    settings.mesh.expose &&
    !settings.mesh.sourceCidrs.some((cidr) => overlaps(parseCidr(cidr), vpc))
    ? [problem('mesh.sourceCidrs', `must include the VPC (${aws.vpcCidr}): the EC2 XEM hosts dial the mesh from there`)]
    : [];
}
