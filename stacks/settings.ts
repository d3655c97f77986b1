import {
  awsDefaults,
  databaseDefaults,
  frontendDefaults,
  routerDefaults,
  xemHost,
  ximModel,
} from './settings/defaults.js';
import { settingsProblems } from './settings/checks.js';
import type { RawSettings, SecretKey } from './settings/schema.js';
import type { StackSettings } from './settings/types.js';
import { readRaw, SettingsError } from './settings/validate.js';

export { SettingsError } from './settings/validate.js';
export type * from './settings/types.js';

/**
 * StackSettings: one stack file's `xerotier:*` keys, read once into a frozen, typed object.
 * Pure: `read(key)` returns the raw value the Pulumi config holds (or undefined), so tests and
 * the synth script feed it without an engine. Three steps, each naming the key of any problem:
 * the schema (types, ranges, names), the defaults by environment, then the checks across keys
 * (CIDRs, unique names, models against GPUs and caches, immutable image tags, one router).
 */
export interface SettingsContext {
  /** `aws:region`, for the aws target's defaults. */
  readonly region?: string;
  /** Which of the secret keys the stack sets (their values never pass through here). */
  readonly secrets?: ReadonlySet<SecretKey>;
}

type Read = (key: string) => string | undefined;

export function readSettings(read: Read, context: SettingsContext = {}): StackSettings {
  const raw = readRaw(read);
  const target = required(raw, 'target');
  const environment = required(raw, 'environment');
  const hostname = required(raw, 'hostname');
  const settings = resolve(raw, { target, environment, hostname }, context);
  const [first] = settingsProblems(settings);
  if (first) throw first;
  return Object.freeze(settings);
}

function resolve(
  raw: RawSettings,
  base: Pick<StackSettings, 'target' | 'environment' | 'hostname'>,
  context: SettingsContext,
): StackSettings {
  const prod = base.environment === 'prod';
  const aws =
    base.target === 'aws'
      ? awsDefaults(raw.aws, { environment: base.environment, ...(context.region ? { region: context.region } : {}) })
      : undefined;
  return {
    ...base,
    namespace: raw.namespace ?? 'xerotier',
    bootstrapProject: raw.bootstrapProject ?? 'platform',
    images: { registry: raw.images?.registry ?? 'ghcr.io/xerotier', tag: raw.images?.tag ?? '' },
    router: routerDefaults(raw.router),
    frontend: frontendDefaults(raw.frontend, prod),
    ingress: {
      className: raw.ingress?.className ?? (aws ? 'alb' : ''),
      tlsIssuer: raw.ingress?.tlsIssuer ?? 'letsencrypt',
      annotations: raw.ingress?.annotations ?? {},
    },
    mesh: {
      expose: raw.mesh?.expose ?? Boolean(aws),
      sourceCidrs: raw.mesh?.sourceCidrs ?? (aws?.vpcCidr ? [aws.vpcCidr] : []),
    },
    database: databaseDefaults(raw.database, prod),
    cache: {
      external: raw.cache?.external ?? false,
      nodeType: raw.cache?.nodeType ?? (prod ? 'cache.r6g.large' : 'cache.t4g.small'),
    },
    storage: aws ? { className: 'gp3', sharedClassName: 'efs' } : { ...raw.storage },
    ximFleet: (raw.ximFleet ?? []).map((model) => ximModel(model, aws?.gpuNodePools ?? [], base.target)),
    xemHosts: (raw.xemHosts ?? []).map(xemHost),
    xemEc2Hosts:
      base.target === 'aws'
        ? (raw.xemEc2Hosts ?? []).map((host) => ({ count: 1, instanceType: 't3.small', ...host }))
        : [],
    monitoring: {
      podMonitors: raw.monitoring?.podMonitors ?? false,
      ...(raw.monitoring?.tracing ? { tracing: { sampleRate: 1, ...raw.monitoring.tracing } } : {}),
    },
    rotation: {
      databaseApp: 0,
      databaseOwner: 0,
      cache: 0,
      tokenSigning: 0,
      tokenSigningOverlap: true,
      ...raw.rotation,
    },
    huggingFaceToken: context.secrets?.has('huggingFaceToken') ?? false,
    ...(aws ? { aws } : {}),
  };
}

function required<K extends 'target' | 'environment' | 'hostname'>(
  raw: RawSettings,
  key: K,
): NonNullable<RawSettings[K]> {
  const value = raw[key];
  if (value === undefined || value === '')
    throw new SettingsError(key, 'is required: set it in the stack file (config/stacks/Pulumi.<stack>.yaml)');
  return value as NonNullable<RawSettings[K]>;
}
