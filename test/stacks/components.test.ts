import { createHash } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { curveKeyPair } from 'zeromq';
import { curvePublicFromSecret } from '../../services/protocol/curve-keys.js';
import { platformMocks, valueOf, type RecordedResource } from '../../stacks/offline/mocks.js';
import { readSettings, SettingsError } from '../../stacks/settings.js';
// Types only: the modules themselves are imported after the mocks are set.
import type { PlatformSecrets as PlatformSecretsType } from '../../stacks/components/secrets.js';
import type { XemHosts as XemHostsType } from '../../stacks/components/xem-hosts.js';
import type { XimFleet as XimFleetType } from '../../stacks/components/xim-fleet.js';

// Components are built directly, under mocks set before they are imported.
let resources: RecordedResource[];
let components: { PlatformSecrets: typeof PlatformSecretsType; XimFleet: typeof XimFleetType; XemHosts: typeof XemHostsType };

beforeAll(async () => {
  const recorded = platformMocks();
  resources = recorded.resources;
  await pulumi.runtime.setMocks(recorded.mocks, 'xerotier', 'components', false);
  components = {
    PlatformSecrets: (await import('../../stacks/components/secrets.js')).PlatformSecrets,
    XimFleet: (await import('../../stacks/components/xim-fleet.js')).XimFleet,
    XemHosts: (await import('../../stacks/components/xem-hosts.js')).XemHosts,
  };
});

describe('PlatformSecrets', () => {
  it('derives the router\'s CURVE public key as the services (and libzmq) do, secret key secret, public key not', async () => {
    const secrets = new components.PlatformSecrets('s1', { bootstrapProject: 'acme', agents: [] });
    const secretKey = await valueOf(secrets.routerCurveSecretKey);
    expect(secretKey).toHaveLength(40);
    expect(await valueOf(secrets.routerCurvePublicKey)).toBe(curvePublicFromSecret(secretKey));
    const reference = curveKeyPair();
    expect(curvePublicFromSecret(reference.secretKey)).toBe(reference.publicKey);
    expect(await pulumi.isSecret(secrets.routerCurveSecretKey)).toBe(true);
    expect(await pulumi.isSecret(secrets.routerCurvePublicKey)).toBe(false);
    for (const output of [secrets.tokenSigningKey, secrets.completionEncryptionKey, secrets.adminApiKey, secrets.adminApiKeySha256, secrets.ximSaltSecret, secrets.databasePassword, secrets.cachePassword]) {
      expect(await pulumi.isSecret(output)).toBe(true);
    }
  });

  it('gives each agent its own join key and the router only role:name:sha256 of it; the admin key only as a hash', async () => {
    const secrets = new components.PlatformSecrets('s2', { bootstrapProject: 'acme', agents: [{ role: 'xem', name: 'xem-ops-0' }, { role: 'xim', name: 'xim-llama-0' }] });
    const xem = secrets.joinKey('xem', 'xem-ops-0');
    const key = await valueOf(xem.key);
    expect(key).toMatch(/^xjk_[A-Za-z0-9_-]{43}$/);
    expect(await valueOf(xem.routerEntry)).toBe(`xem:xem-ops-0:${createHash('sha256').update(key.slice(4)).digest('hex')}`);
    const entries = await valueOf(secrets.routerJoinKeyEntries);
    expect(entries.split(' ')).toHaveLength(2);
    expect(entries).not.toContain(key.slice(4));
    expect(await valueOf(secrets.joinKey('xim', 'xim-llama-0').key)).not.toBe(key);
    expect(await pulumi.isSecret(xem.key)).toBe(true);
    const admin = await valueOf(secrets.adminApiKey);
    expect(admin).toMatch(/^xero_acme_[A-Za-z0-9_-]{43}$/);
    expect(await valueOf(secrets.adminApiKeySha256)).toBe(createHash('sha256').update(admin.slice('xero_acme_'.length)).digest('hex'));
    expect(() => secrets.joinKey('xem', 'unknown')).toThrow(/no join key/);
  });
});

type PodSpec = { containers: { name: string; resources?: { limits?: Record<string, string> }; env?: { name: string; value?: string }[] }[]; tolerations?: { key: string; effect: string }[]; serviceAccountName?: string };
const recorded = (type: string, name: string) => resources.find((resource) => resource.type === type && resource.name === name);
const statefulSet = (name: string) => recorded('kubernetes:apps/v1:StatefulSet', name)!.inputs as { spec: { replicas: number; template: { spec: PodSpec } } };

/** Registrations reach the mocks asynchronously: wait until these have. */
async function registered(...wanted: [type: string, name: string][]): Promise<void> {
  for (let tries = 0; tries < 200 && !wanted.every(([type, name]) => recorded(type, name)); tries += 1) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('XimFleet and XemHosts', () => {
  it('puts XIM pods on GPU nodes: they tolerate the taint, request the GPUs, and the agent attaches to vLLM\'s socket', async () => {
    const secrets = new components.PlatformSecrets('s3', { bootstrapProject: 'acme', agents: components.XimFleet.agentNames([{ name: 'llama', model: 'meta/llama', replicas: 2, gpus: 4, cacheSizeGi: 50 }]).map((name) => ({ role: 'xim' as const, name })) });
    new components.XimFleet('xim', { namespace: 'x', images: { registry: 'r', tag: 't', vllm: 'vllm/vllm-openai:v1' }, routerUrl: 'http://router', secrets, models: [{ name: 'llama', model: 'meta/llama', replicas: 2, gpus: 4, cacheSizeGi: 50 }] });
    await registered(['kubernetes:apps/v1:StatefulSet', 'xim-llama']);
    const spec = statefulSet('xim-llama').spec;
    expect(spec.replicas).toBe(2);
    expect(spec.template.spec.tolerations).toContainEqual(expect.objectContaining({ key: 'nvidia.com/gpu', effect: 'NoSchedule' }));
    const vllm = spec.template.spec.containers.find((container) => container.name === 'vllm')!;
    expect(vllm.resources!.limits!['nvidia.com/gpu']).toBe('4');
    const agent = spec.template.spec.containers.find((container) => container.name === 'xim-agent')!;
    expect(agent.env).toContainEqual({ name: 'XEROTIER_AGENT_ENGINE_URL', value: 'unix:///run/xerotier/engine.sock' });
    expect(agent.env).toContainEqual({ name: 'XEROTIER_AGENT_VLLM_SOCKET_PATH', value: '/run/xerotier/engine.sock' });
  });

  it('gives XEM hosts RBAC by their access: read gets no write verbs, operate may drain and scale', async () => {
    const hosts = [{ name: 'reader', replicas: 1, kubernetesAccess: 'read' as const }, { name: 'operator', replicas: 2, kubernetesAccess: 'operate' as const }, { name: 'plain', replicas: 1, kubernetesAccess: 'none' as const }];
    const secrets = new components.PlatformSecrets('s4', { bootstrapProject: 'acme', agents: components.XemHosts.agentNames(hosts).map((name) => ({ role: 'xem' as const, name })) });
    new components.XemHosts('xem', { namespace: 'x', images: { registry: 'r', tag: 't' }, routerUrl: 'http://router', secrets, hosts });
    await registered(['kubernetes:rbac.authorization.k8s.io/v1:ClusterRole', 'xem-reader'], ['kubernetes:rbac.authorization.k8s.io/v1:ClusterRole', 'xem-operator'], ['kubernetes:apps/v1:StatefulSet', 'xem-operator']);
    const verbs = (name: string) => ((resources.find((resource) => resource.type === 'kubernetes:rbac.authorization.k8s.io/v1:ClusterRole' && resource.name === name)?.inputs['rules'] ?? []) as { verbs: string[] }[]).flatMap((rule) => rule.verbs);
    expect(new Set(verbs('xem-reader'))).toEqual(new Set(['get', 'list', 'watch']));
    expect(verbs('xem-operator')).toEqual(expect.arrayContaining(['patch', 'create', 'update']));
    expect(verbs('xem-plain')).toEqual([]);
    expect(components.XemHosts.agentNames(hosts)).toEqual(['xem-reader-0', 'xem-operator-0', 'xem-operator-1', 'xem-plain-0']);
    expect(statefulSet('xem-operator').spec.replicas).toBe(2);
  });
});

describe('readSettings', () => {
  const base: Record<string, string> = { target: 'kubernetes', environment: 'dev', hostname: 'x.example.com' };
  const read = (extra: Record<string, string>) => readSettings((key) => ({ ...base, ...extra })[key]);

  it('sizes by environment unless told, and names the key of any bad value', () => {
    expect(read({}).router).toMatchObject({ replicas: 1 });
    expect(read({ environment: 'prod' })).toMatchObject({ router: { replicas: 3 }, database: { multiAz: true, deletionProtection: true } });
    expect(() => read({ hostname: '' })).toThrow(/xerotier:hostname: is required/);
    expect(() => read({ target: 'gcp' })).toThrow(SettingsError);
    expect(() => read({ router: '{"replica": 2}' })).toThrow(/xerotier:router: has unknown fields replica/);
    expect(() => read({ ximFleet: '[{"name":"Bad_Name","model":"m"}]' })).toThrow(/ximFleet\[0\]\.name/);
    expect(() => read({ ximFleet: '[{"name":"ok"}]' })).toThrow(/ximFleet\[0\]\.model: is required/);
  });
});
