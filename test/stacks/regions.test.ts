import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parse, stringify } from 'yaml';
import { synthesize } from '../../stacks/offline/synth.js';
import { listStacks, loadStackConfig, STACK_DIR } from '../../stacks/offline/stack-file.js';
import { overlaps, parseCidr } from '../../stacks/rules/cidr.js';
import { readSettings } from '../../stacks/settings.js';

const scratch = mkdtempSync(join(tmpdir(), 'xerotier-regions-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** docs/deploy.md "A region from nothing", step 2 and 3: copy a stack file, change what must differ. */
function copyStack(from: string, to: string, edit: (config: Record<string, unknown>) => void): string {
  const document = parse(readFileSync(join(STACK_DIR, `Pulumi.${from}.yaml`), 'utf8')) as {
    config: Record<string, unknown>;
  };
  edit(document.config);
  const path = join(scratch, `Pulumi.${to}.yaml`);
  writeFileSync(path, stringify(document));
  return path;
}

describe('a new region from one stack file', () => {
  it('synthesizes a region copied from prod with only its region and hostname changed, in its own address space', async () => {
    const path = copyStack('prod-us-east-1', 'prod-ap-south-1', (config) => {
      config['aws:region'] = 'ap-south-1';
      config['xerotier:hostname'] = 'ap-south-1.prod.xerotier.example.com';
    });
    expect(listStacks(scratch)).toContain('prod-ap-south-1');
    vi.resetModules();
    const { resources } = await synthesize(path);
    const vpc = resources.find((resource) => resource.type === 'aws:ec2/vpc:Vpc')!.inputs['cidrBlock'] as string;
    expect(vpc).toBe('10.80.0.0/16');
    for (const stack of awsStacks()) expect(overlaps(parseCidr(vpc), parseCidr(vpcOf(stack))), stack).toBe(false);
    expect(
      resources.find((resource) => resource.type === 'aws:rds/instance:Instance')!.inputs['finalSnapshotIdentifier'],
    ).toBe('xerotier-prod-ap-south-1-final');
    for (const secret of resources.filter((resource) => resource.type === 'aws:secretsmanager/secret:Secret'))
      expect(secret.inputs['name']).toMatch(/^xerotier\/prod-ap-south-1\//);
    expect(resources.filter((resource) => resource.type === 'kubernetes:apps/v1:StatefulSet').length).toBeGreaterThan(
      0,
    );
  }, 60_000);

  it('synthesizes a minimal new region: target, environment, hostname, region, image, admins and DNS, the rest defaulted', async () => {
    const path = join(scratch, 'Pulumi.staging-eu-central-1.yaml');
    writeFileSync(
      path,
      stringify({
        config: {
          'aws:region': 'eu-central-1',
          'xerotier:target': 'aws',
          'xerotier:environment': 'staging',
          'xerotier:hostname': 'eu-central-1.staging.example.com',
          'xerotier:images': { tag: '41a69d94108227a5254dcc003c61bffb91b20912' },
          'xerotier:aws': {
            clusterAdmins: ['arn:aws:iam::111122223333:role/deploy'],
            dns: { hostedZoneId: 'Z0123456789EXAMPLE' },
          },
        },
      }),
    );
    vi.resetModules();
    const { resources } = await synthesize(path);
    expect(resources.find((resource) => resource.type === 'aws:ec2/vpc:Vpc')!.inputs['cidrBlock']).toBe(
      '10.123.0.0/16',
    );
    expect(resources.find((resource) => resource.type === 'kubernetes:apps/v1:Deployment')).toBeDefined();
  }, 60_000);

  it('serves a gated model when the stack holds the Hugging Face token (as the CLI hands a secure value)', async () => {
    const path = copyStack('dev-us-east-1', 'dev-gated', (config) => {
      (config['xerotier:ximFleet'] as { model: string; maxModelLen: number }[])[0]!.model =
        'meta-llama/Llama-3.1-8B-Instruct';
      config['xerotier:huggingFaceToken'] = { secure: 'v1:ciphertext' };
    });
    vi.resetModules();
    const { resources } = await synthesize(path);
    const token = resources.find(
      (resource) => resource.type === 'kubernetes:core/v1:Secret' && resource.name.endsWith('-hf'),
    )!;
    expect(token.inputs['stringData']).toBe('[secret]');
    const fleet = resources.find(
      (resource) => resource.type === 'kubernetes:apps/v1:StatefulSet' && resource.name.startsWith('xim-'),
    )!;
    const vllm = (
      fleet.inputs['spec'] as {
        template: { spec: { containers: { name: string; env: { name: string; valueFrom?: unknown }[] }[] } };
      }
    ).template.spec.containers.find((container) => container.name === 'vllm')!;
    expect(vllm.env.find((variable) => variable.name === 'HF_TOKEN')?.valueFrom).toEqual({
      secretKeyRef: { name: token.name, key: 'HF_TOKEN' },
    });
  }, 60_000);

  it("rotates the app role's password by a setting: a new migration sets it before the router rolls onto it", async () => {
    const jobOf = (resources: Awaited<ReturnType<typeof synthesize>>['resources']) =>
      resources.find(
        (resource) => resource.type === 'kubernetes:batch/v1:Job' && resource.name.startsWith('control-plane-migrate-'),
      )!.name;
    vi.resetModules();
    const before = await synthesize('dev-us-east-1');
    vi.resetModules();
    const after = await synthesize(
      copyStack('dev-us-east-1', 'dev-rotated', (config) => {
        config['xerotier:rotation'] = { databaseApp: 1 };
      }),
    );
    expect(jobOf(after.resources)).not.toBe(jobOf(before.resources));
    const password = after.resources.find(
      (resource) =>
        resource.type === 'random:index/randomPassword:RandomPassword' &&
        resource.name === 'platform-database-app-password',
    )!;
    expect(password.inputs['keepers']).toEqual({ generation: '1' });
    const router = after.graph.get('kubernetes:apps/v1:Deployment', 'control-plane-router')!;
    expect(after.graph.waitsFor(router, after.graph.get('kubernetes:batch/v1:Job', jobOf(after.resources))!)).toBe(
      true,
    );
    const redis = after.resources.find(
      (resource) => resource.type === 'kubernetes:apps/v1:StatefulSet' && resource.name === 'data-redis',
    )!;
    expect(
      (redis.inputs['spec'] as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata
        .annotations['xerotier.io/secret-checksum'],
    ).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);

  it('rotates the token-signing key with an overlap: the previous key stays accepted until the overlap is switched off', async () => {
    const routerEnv = routerEnvOf;
    const tokenKeys = (resources: Resources) => randomKeys(resources, 'platform-token-signing');
    vi.resetModules();
    const during = await synthesize(
      copyStack('dev-us-east-1', 'dev-token-rotation', (config) => {
        config['xerotier:rotation'] = { tokenSigning: 1 };
      }),
    );
    // Generation 0 keeps its original name (nothing rotates by adding the setting); 1 is new.
    expect(tokenKeys(during.resources)).toEqual(['platform-token-signing', 'platform-token-signing-1']);
    expect(routerEnv(during.resources).get('XEROTIER_TOKEN_SIGNING_KEY')).toBe('token_signing_key');
    expect(routerEnv(during.resources).get('XEROTIER_TOKEN_SIGNING_KEY_PREVIOUS')).toBe('token_signing_key_previous');
    vi.resetModules();
    const after = await synthesize(
      copyStack('dev-us-east-1', 'dev-token-rotated', (config) => {
        config['xerotier:rotation'] = { tokenSigning: 1, tokenSigningOverlap: false };
      }),
    );
    expect(tokenKeys(after.resources)).toEqual(['platform-token-signing-1']);
    expect(routerEnv(after.resources).has('XEROTIER_TOKEN_SIGNING_KEY_PREVIOUS')).toBe(false);
  }, 60_000);

  it('rotates the CURVE key in two steps: the next generation served on the other mesh port, then promoted there', async () => {
    const router = routerEnvOf;
    const curveKeys = (resources: Resources) => randomKeys(resources, 'platform-router-curve');
    vi.resetModules();
    const during = await synthesize(
      copyStack('dev-us-east-1', 'dev-curve-rotation', (config) => {
        config['xerotier:rotation'] = { curveNext: true };
      }),
    );
    expect(curveKeys(during.resources)).toEqual(['platform-router-curve', 'platform-router-curve-1']);
    const serving = router(during.resources);
    expect([serving.get('XEROTIER_MESH_BIND'), serving.get('XEROTIER_MESH_NEXT_BIND')]).toEqual([
      'tcp://0.0.0.0:5555',
      'tcp://0.0.0.0:5556',
    ]);
    expect(serving.get('XEROTIER_ROUTER_CURVE_SECRET_KEY_NEXT')).toBe('curve_secret_key_next');
    expect(serving.get('XEROTIER_MESH_NEXT_PUBLIC_ENDPOINT')).toMatch(/^tcp:\/\/mesh\..*:5556$/);
    // Both ports are always published, so neither step changes what the load balancer exposes.
    const services = during.resources.filter((resource) => resource.type === 'kubernetes:core/v1:Service');
    const meshPorts = services
      .filter((service) => service.name.includes('mesh'))
      .map((service) => (service.inputs['spec'] as { ports: { port: number }[] }).ports.map((port) => port.port));
    expect(meshPorts.length).toBeGreaterThan(0);
    for (const ports of meshPorts) expect(ports).toEqual([5555, 5556]);
    vi.resetModules();
    const promoted = await synthesize(
      copyStack('dev-us-east-1', 'dev-curve-rotated', (config) => {
        config['xerotier:rotation'] = { curve: 1 };
      }),
    );
    expect(curveKeys(promoted.resources)).toEqual(['platform-router-curve-1']);
    const after = router(promoted.resources);
    expect(after.get('XEROTIER_MESH_BIND')).toBe('tcp://0.0.0.0:5556');
    expect(after.has('XEROTIER_ROUTER_CURVE_SECRET_KEY_NEXT')).toBe(false);
    expect(after.get('XEROTIER_MESH_PUBLIC_ENDPOINT')).toMatch(/:5556$/);
  }, 60_000);

  it("keeps the repository's aws stacks in address spaces that do not overlap", () => {
    const stacks = awsStacks();
    for (const [index, stack] of stacks.entries()) {
      for (const other of stacks.slice(index + 1))
        expect(overlaps(parseCidr(vpcOf(stack)), parseCidr(vpcOf(other))), `${stack} / ${other}`).toBe(false);
    }
  });
});

type Resources = Awaited<ReturnType<typeof synthesize>>['resources'];

/** The router Deployment's environment: each variable's literal value, or the Secret key it reads. */
function routerEnvOf(resources: Resources): Map<string, string | undefined> {
  const router = resources.find(
    (resource) => resource.type === 'kubernetes:apps/v1:Deployment' && resource.name === 'control-plane-router',
  )!;
  const spec = router.inputs['spec'] as {
    template: {
      spec: {
        containers: { env: { name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string } } }[] }[];
      };
    };
  };
  const env = spec.template.spec.containers[0]!.env;
  return new Map(env.map((entry) => [entry.name, entry.value ?? entry.valueFrom?.secretKeyRef?.key]));
}

/** The generated keys (random bytes) whose resource names start with `prefix`, sorted. */
function randomKeys(resources: Resources, prefix: string): string[] {
  return resources
    .filter((resource) => resource.type === 'random:index/randomBytes:RandomBytes' && resource.name.startsWith(prefix))
    .map((resource) => resource.name)
    .sort();
}

function awsStacks(): string[] {
  return listStacks().filter((stack) => loadStackConfig(stack)['xerotier:target'] === 'aws');
}

function vpcOf(stack: string): string {
  const config = loadStackConfig(stack);
  return readSettings((key) => config[`xerotier:${key}`], { region: config['aws:region'] }).aws!.vpcCidr;
}
