import * as pulumi from '@pulumi/pulumi';
import { deployToCluster } from './kubernetes.js';
import { readSettings, SettingsError } from './settings.js';

/**
 * The Pulumi program (Pulumi.yaml `main: stacks/`): the stack file's settings, then the target.
 * Only wiring lives here; every piece is a component under components/.
 */
const config = new pulumi.Config('xerotier');
const settings = readSettings((key) => config.get(key));

if (settings.target === 'aws') {
  throw new SettingsError('target', 'aws is not built yet (its Network, Database, Cache and Cluster components are the next part of this work); deploy with target: kubernetes into an existing cluster');
}

const platform = deployToCluster(settings, {
  ...optional('kubeconfig', config.getSecret('kubeconfig')), ...optional('databaseUrl', config.getSecret('databaseUrl')), ...optional('redisUrl', config.getSecret('redisUrl')),
});

export const routerUrl = platform.routerUrl;
export const meshEndpoint = platform.meshEndpoint;
export const routerCurvePublicKey = platform.routerCurvePublicKey;
export const adminApiKey = platform.adminApiKey;
export const namespace = platform.namespace;

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
