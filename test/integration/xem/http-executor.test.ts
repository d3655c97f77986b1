import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadBundles } from '../../../services/xem-agent/bundles/loader.js';
import { engineHarness, type EngineHarness } from '../../helpers/xem-engine.js';

const WORKSPACE = 'ws_http';
const TOKEN = 'canary-http-bearer-777777';
const object = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

describe('http executor: a method and URL template under a declared base URL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xerotier-http-'));
  const seen: string[] = [];
  let api: Server;
  let elsewhere: Server;
  let local: EngineHarness;

  beforeAll(async () => {
    elsewhere = createServer((request, response) => (seen.push(`elsewhere ${request.url}`), response.end('stolen')));
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const other = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
    api = createServer((request, response) => {
      seen.push(`${request.method} ${request.url}`);
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.url === '/api/whoami') return response.end(`auth: ${request.headers.authorization}`);
        if (request.url === '/api/out')
          return (response.writeHead(302, { location: `${other}/steal` }), response.end());
        if (request.url === '/api/in')
          return (response.writeHead(302, { location: '/api/items/moved' }), response.end());
        if (request.url === '/api/slow') return void setTimeout(() => response.end('late'), 5_000);
        if (request.url?.startsWith('/api/missing')) return (response.writeHead(404), response.end('no such item'));
        response.end(JSON.stringify({ url: request.url, body: Buffer.concat(chunks).toString() }));
      });
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(api.address() as AddressInfo).port}/api/`;
    const tool = (name: string, http: Record<string, unknown>, parameters = object({})) => ({
      name,
      description: name,
      risk: 'read',
      timeout_ms: 2_000,
      credentials_ref: 'api.env',
      parameters,
      http: { base_url: base, method: 'GET', ...http },
    });
    mkdirSync(join(dir, 'tools', 'api'), { recursive: true });
    writeFileSync(
      join(dir, 'tools', 'api', 'bundle.yaml'),
      stringify({
        name: 'api',
        version: '1',
        domain: 'test',
        tools: [
          tool(
            'get_item',
            { path: 'items/{{id}}', query: { fields: '{{fields}}' } },
            object({ id: { type: 'string' }, fields: { type: 'string' } }, ['id']),
          ),
          tool(
            'create_item',
            { method: 'POST', path: 'items', body: 'json' },
            object({ name: { type: 'string' }, size: { type: 'integer' } }, ['name']),
          ),
          tool('whoami', { path: 'whoami' }),
          tool('go_out', { path: 'out' }),
          tool('go_in', { path: 'in' }),
          tool('slow', { path: 'slow' }),
          tool('missing', { path: 'missing' }),
        ],
      }),
    );
    mkdirSync(join(dir, 'credentials', WORKSPACE), { recursive: true });
    writeFileSync(join(dir, 'credentials', WORKSPACE, 'api.env'), `HTTP_HEADER_AUTHORIZATION=Bearer ${TOKEN}\n`);
    const { tools, problems } = loadBundles(join(dir, 'tools'));
    expect(problems).toEqual([]);
    local = engineHarness({ tools: () => tools, workspace: WORKSPACE, credentialsDir: join(dir, 'credentials') });
  });
  afterAll(() => {
    local.close();
    api.close();
    elsewhere.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (tool: string, args: Record<string, unknown>) => local.run(tool, args, 10_000);

  it('fills path segments and query values, encoded, and stays under the base URL', async () => {
    const result = await run('get_item', { id: '../admin?x=1#y', fields: 'a&b=c' });
    expect(result.status).toBe('succeeded');
    expect(seen).toContain('GET /api/items/..%2Fadmin%3Fx%3D1%23y?fields=a%26b%3Dc');
    expect(await run('get_item', { id: '..' })).toMatchObject({ status: 'failed', error: { code: 'invalid_args' } });
  });

  it('sends the remaining arguments as a JSON body', async () => {
    const result = await run('create_item', { name: 'widget', size: 3 });
    expect(JSON.parse(result.output.split('\n')[1]!)).toEqual({
      url: '/api/items',
      body: '{"name":"widget","size":3}',
    });
  });

  it('adds credential headers and scrubs them from the output', async () => {
    expect((await run('whoami', {})).output).toBe('HTTP 200\nauth: [REDACTED]');
  });

  it('follows a redirect under the base URL and refuses one that leaves it', async () => {
    expect((await run('go_in', {})).output).toContain('/api/items/moved');
    expect(await run('go_out', {})).toMatchObject({ status: 'failed', error: { code: 'redirect_off_base' } });
    expect(seen.some((line) => line.startsWith('elsewhere'))).toBe(false);
  });

  it('reports a non-2xx answer as failed and a slow one as timed out', async () => {
    expect(await run('missing', {})).toMatchObject({ status: 'failed', output: 'HTTP 404\nno such item' });
    expect(await run('slow', {})).toMatchObject({ status: 'timed_out' });
  });

  it('refuses a bundle whose templates would splice text or escape the base', () => {
    const bad = mkdtempSync(join(tmpdir(), 'xerotier-http-bad-'));
    mkdirSync(join(bad, 'b'));
    const shape = (path: string) =>
      stringify({
        name: 'b',
        version: '1',
        domain: 'x',
        tools: [
          {
            name: 't',
            description: 't',
            risk: 'read',
            timeout_ms: 1_000,
            parameters: object({ id: { type: 'string' } }),
            http: { base_url: 'https://x.example/api/', method: 'GET', path },
          },
        ],
      });
    for (const path of ['items/id-{{id}}', '/etc/passwd', 'https://evil.example/{{id}}', 'items/{{other}}']) {
      writeFileSync(join(bad, 'b', 'bundle.yaml'), shape(path));
      expect(loadBundles(bad).problems, path).toEqual([expect.objectContaining({ tool: 't', field: 'http' })]);
    }
    rmSync(bad, { recursive: true, force: true });
  });
});
