import * as pulumi from '@pulumi/pulumi';
import { awsFoundations } from './aws.js';
import { deployToCluster, platformSecrets, type ClusterAccess } from './kubernetes.js';
import { readSettings } from './settings.js';

/**
 * The Pulumi program (Pulumi.yaml `main: stacks/`): the stack file's settings, then the target.
 * Only wiring lives here; every piece is a component under components/.
 */
const config = new pulumi.Config('xerotier');
const settings = readSettings((key) => config.get(key));

const secrets = platformSecrets(settings);
const access: ClusterAccess = settings.target === 'aws'
  ? awsFoundations(settings, secrets, pulumi.getStack())
  : { ...optional('kubeconfig', config.getSecret('kubeconfig')), ...optional('databaseUrl', config.getSecret('databaseUrl')), ...optional('redisUrl', config.getSecret('redisUrl')) };
const platform = deployToCluster(settings, access, secrets);

export const routerUrl = platform.routerUrl;
export const meshEndpoint = platform.meshEndpoint;
export const routerCurvePublicKey = platform.routerCurvePublicKey;
export const adminApiKey = platform.adminApiKey;
export const namespace = platform.namespace;

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
