import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { engineProbe, SOCKET } from '../../stacks/components/xim-pod.js';
import { contains, overlaps, parseCidr } from '../../stacks/rules/cidr.js';
import { verifiedTls, withRole } from '../../stacks/rules/database-url.js';
import { GPU_INSTANCES, hostShare } from '../../stacks/rules/gpu.js';
import { cacheFits, defaultCacheSizeGi, gpuFit, KNOWN_MODELS } from '../../stacks/rules/models.js';
import { immutableTag, pinnedThirdParty } from '../../stacks/rules/platform.js';
import { routerScaling } from '../../stacks/rules/router-scaling.js';
import { defaultVpcCidr, REGIONS, vpcPlan } from '../../stacks/rules/vpc-plan.js';

const scratch = mkdtempSync(join(tmpdir(), 'xerotier-rules-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the VPC plan', () => {
  it.each([
    ['10.64.0.0/16', 3],
    ['10.1.0.0/20', 2],
    ['172.20.0.0/18', 3],
  ] as const)('keeps every subnet of %s inside it and apart (%i AZs)', (vpc, azs) => {
    const plan = vpcPlan(vpc, azs);
    const subnets = [...plan.privateSubnets, ...plan.publicSubnets, ...plan.dataSubnets].map(parseCidr);
    expect(subnets).toHaveLength(azs * 3);
    for (const [index, subnet] of subnets.entries()) {
      expect(contains(parseCidr(vpc), subnet)).toBe(true);
      for (const other of subnets.slice(index + 1)) expect(overlaps(subnet, other)).toBe(false);
    }
  });

  it('gives every region and environment its own default VPC, none overlapping', () => {
    const cidrs = REGIONS.flatMap((region) =>
      (['prod', 'staging', 'dev', 'preview'] as const).map((environment) => defaultVpcCidr(region, environment)!),
    );
    expect(new Set(cidrs).size).toBe(cidrs.length);
    for (const cidr of cidrs) expect(parseCidr(cidr).prefix).toBe(16);
    expect(defaultVpcCidr('xx-nowhere-1', 'prod')).toBeUndefined();
  });

  it('refuses blocks it cannot carve', () => {
    expect(() => vpcPlan('10.0.0.0/24', 2)).toThrow(/\/16 to \/20/);
    expect(() => parseCidr('10.0.0.1/16')).toThrow(/host bits/);
  });
});

describe('models against GPUs and caches', () => {
  it('finds what the review found: a 70B model does not fit 100 Gi, nor four L4s; 8B at 128k tokens does not fit one L4', () => {
    const llama70 = KNOWN_MODELS['meta-llama/Llama-3.3-70B-Instruct']!;
    expect(cacheFits(llama70.weightsGi, 100)).toBe(false);
    expect(gpuFit({ ...llama70, maxModelLen: 8192 }, 4, GPU_INSTANCES['g6.12xlarge']!.gpuMemoryGi).ok).toBe(false);
    expect(gpuFit({ ...llama70, maxModelLen: 32768 }, 4, GPU_INSTANCES['p5.48xlarge']!.gpuMemoryGi).ok).toBe(true);
    const llama8 = KNOWN_MODELS['meta-llama/Llama-3.1-8B-Instruct']!;
    expect(gpuFit({ ...llama8, maxModelLen: 131072 }, 1, GPU_INSTANCES['g6.xlarge']!.gpuMemoryGi).ok).toBe(false);
    expect(gpuFit({ ...llama8, maxModelLen: 8192 }, 1, GPU_INSTANCES['g6.xlarge']!.gpuMemoryGi).ok).toBe(true);
    expect(cacheFits(llama70.weightsGi, defaultCacheSizeGi(llama70.weightsGi))).toBe(true);
  });

  it('asks a GPU pod for its share of the host, within what a g6.xlarge can give', () => {
    expect(hostShare(GPU_INSTANCES['g6.xlarge']!, 1)).toEqual({ cpu: '3', memory: '12Gi' });
    expect(hostShare(GPU_INSTANCES['p5.48xlarge']!, 4)).toEqual({ cpu: '76', memory: '819Gi' });
  });
});

describe('router scaling', () => {
  it('lets an HPA own the count between replicas and maxReplicas, clamped to the limit', () => {
    expect(routerScaling({ replicas: 1, maxReplicas: 1 })).toEqual({ replicas: 1, maxReplicas: 1, autoscale: false });
    expect(routerScaling({ replicas: 3, maxReplicas: 10 }, 1)).toEqual({
      replicas: 1,
      maxReplicas: 1,
      autoscale: false,
    });
    expect(routerScaling({ replicas: 3, maxReplicas: 40 })).toEqual({ replicas: 3, maxReplicas: 10, autoscale: true });
    expect(routerScaling({ replicas: 3, maxReplicas: 10 }, 10)).toEqual({
      replicas: 3,
      maxReplicas: 10,
      autoscale: true,
    });
  });
});

describe('image references', () => {
  it('accepts only what cannot move for our images, and full versions for others', () => {
    for (const tag of ['41a69d94108227a5254dcc003c61bffb91b20912', '41a69d9', `sha256:${'0'.repeat(64)}`])
      expect(immutableTag(tag), tag).toBe(true);
    for (const tag of ['latest', 'main', 'pr-7', 'v0.1.0', 'MAIN']) expect(immutableTag(tag), tag).toBe(false);
    for (const image of [
      'postgres:16.10-alpine',
      'nvcr.io/nvidia/k8s-device-plugin:v0.17.0',
      `redis:7.4.2-alpine@sha256:${'a'.repeat(64)}`,
    ])
      expect(pinnedThirdParty(image), image).toBe(true);
    for (const image of ['postgres:16-alpine', 'redis:latest', 'redis'])
      expect(pinnedThirdParty(image), image).toBe(false);
  });
});

describe('Postgres URLs', () => {
  it('make node-postgres verify the server against the given CA, host name included', () => {
    const ca = join(scratch, 'bundle.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const url = verifiedTls('postgres://xerotier:secret@db.example.com:5432/xerotier', ca);
    const client = new pg.Client({ connectionString: url }) as unknown as {
      connectionParameters: { ssl: { ca?: string; rejectUnauthorized?: boolean; checkServerIdentity?: unknown } };
    };
    const ssl = client.connectionParameters.ssl;
    expect(ssl.ca).toContain('BEGIN CERTIFICATE');
    expect(ssl.rejectUnauthorized).not.toBe(false);
    expect(ssl.checkServerIdentity).toBeUndefined();
  });

  it('differ for the app role only in user and password', () => {
    const owner = 'postgres://xerotier:owner@db.example.com:5432/xerotier?sslmode=verify-full';
    const app = new URL(withRole(owner, 'xerotier_app', 'p@ss/word'));
    expect([app.username, decodeURIComponent(app.password), app.host, app.pathname, app.search]).toEqual([
      'xerotier_app',
      'p@ss/word',
      'db.example.com:5432',
      '/xerotier',
      '?sslmode=verify-full',
    ]);
  });
});

describe('the vLLM probe', () => {
  const python = spawnSync('python3', ['--version']).status === 0;
  const servers: Server[] = [];
  afterAll(() => servers.forEach((server) => server.close()));
  const serve = (status: number) =>
    new Promise<string>((resolve) => {
      const path = join(scratch, `engine-${status}.sock`);
      const server = createServer((request, response) =>
        response.writeHead(request.url === '/health' ? status : 404).end(),
      );
      servers.push(server);
      server.listen(path, () => resolve(path));
    });
  // Asynchronously: the engine stand-in answers from this process's event loop.
  const probe = (socket: string) =>
    new Promise<number | null>((resolve) => {
      const [command, ...args] = engineProbe().command as string[];
      spawn(
        command!,
        args.map((arg) => (arg === SOCKET ? socket : arg)),
        { stdio: 'ignore' },
      ).on('exit', resolve);
    });

  it.skipIf(!python)('passes on /health 200 over the Unix socket, and fails on 503 or no engine', async () => {
    expect(await probe(await serve(200))).toBe(0);
    expect(await probe(await serve(503))).toBe(1);
    expect(await probe(join(scratch, 'absent.sock'))).toBe(1);
  });
});
