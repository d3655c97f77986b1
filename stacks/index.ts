import * as pulumi from '@pulumi/pulumi';
import { awsFoundations } from './aws.js';
import { deployToCluster, existingCluster, platformSecrets } from './kubernetes.js';
import { readSettings } from './settings.js';
import { SECRET_KEYS } from './settings/schema.js';

/**
 * The Pulumi program (Pulumi.yaml `main: stacks/`): the stack file's settings (validated before
 * any resource is declared), then the target's cluster, then the platform in it. Only wiring
 * lives here; every piece is a component under components/.
 */
const config = new pulumi.Config('xerotier');
const secretConfig = Object.fromEntries(
  SECRET_KEYS.flatMap((key) => {
    const value = config.getSecret(key);
    return value === undefined ? [] : [[key, value] as const];
  }),
);
const settings = readSettings((key) => config.get(key), {
  region: new pulumi.Config('aws').get('region'),
  secrets: new Set(Object.keys(secretConfig) as (typeof SECRET_KEYS)[number][]),
});

const secrets = platformSecrets(settings);
const foundations = settings.target === 'aws' ? awsFoundations(settings, secrets, pulumi.getStack()) : undefined;
const target = foundations?.target ?? existingCluster(settings, secretConfig, secrets);
const platform = deployToCluster(settings, target, secrets, secretConfig.huggingFaceToken);
foundations?.afterPlatform(platform);

export const routerUrl = platform.routerUrl;
export const meshEndpoint = platform.meshEndpoint;
export const uiUrl = platform.webUi?.url;
export const routerCurvePublicKey = secrets.routerCurvePublicKey;
export const adminApiKey = secrets.adminApiKey;
export const namespace = platform.namespace;
