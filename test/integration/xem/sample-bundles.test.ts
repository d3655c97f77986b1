import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../services/devstack/dev-state.js';
import { loadBundles, type LoadedTool } from '../../../services/xem-agent/bundles/loader.js';
import { kubeconfigFor, startFakeKubeApi } from '../../helpers/fake-kube-api.js';
import { engineHarness, type EngineHarness } from '../../helpers/xem-engine.js';

const WORKSPACE = 'ws_cluster';
const TOKEN = 'canary-kube-token-0123456789';
const hasKubectl = spawnSync('kubectl', ['version', '--client']).status === 0;

describe('the sample bundles in config/tools', () => {
  let tools: Map<string, LoadedTool>;
  let local: EngineHarness;
  const dir = mkdtempSync(join(tmpdir(), 'xerotier-samples-'));

  beforeAll(() => {
    const loaded = loadBundles(join(REPO_ROOT, 'config', 'tools'));
    expect(loaded.problems).toEqual([]);
    tools = loaded.tools;
    mkdirSync(join(dir, WORKSPACE));
    // A cluster nobody listens at: kubectl fails, and must not print the token while failing.
    writeFileSync(join(dir, WORKSPACE, 'kubeconfig'), kubeconfigFor('https://127.0.0.1:1', TOKEN));
    local = engineHarness({ tools: () => tools, workspace: WORKSPACE, credentialsDir: dir });
  });
  afterAll(() => {
    local.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (tool: string, args: Record<string, unknown>) => local.run(tool, args);

  it('declare the risks of research/xem-spec.md §5', () => {
    const risks = Object.fromEntries([...tools.values()].map((tool) => [tool.spec.name, tool.spec.risk]));
    expect(risks).toMatchObject({
      kubectl_get: 'read',
      kubectl_label: 'write',
      kubectl_node_cordon: 'write',
      kubectl_node_drain: 'destructive',
      kubectl_delete: 'irreversible',
      host_disk_usage: 'read',
      host_uptime: 'read',
      host_service_status: 'read',
      pg_list_databases: 'read',
      pg_create_database: 'write',
      pg_terminate_backend: 'destructive',
      pg_drop_database: 'irreversible',
    });
  });

  it('host: uptime and disk usage run for real', async () => {
    expect((await run('host_uptime', {})).output).toMatch(/load average/);
    const disks = await run('host_disk_usage', {});
    expect(disks.status).toBe('succeeded');
    expect(disks.output).toMatch(/Filesystem/);
  });

  it.skipIf(!hasKubectl)(
    'kubernetes: a call to an unreachable cluster fails plainly and never shows the token',
    async () => {
      const result = await run('kubectl_get', { namespace: 'default', resource: 'pods' });
      expect(result.status).toBe('failed');
      expect(result.output).not.toContain(TOKEN);
    },
  );

  it.skipIf(!hasKubectl)(
    'kubernetes: kubectl get, label and cordon run for real against a stand-in API server',
    async () => {
      const api = await startFakeKubeApi();
      const credentials = mkdtempSync(join(tmpdir(), 'xerotier-kube-'));
      mkdirSync(join(credentials, 'ws_fake'));
      writeFileSync(join(credentials, 'ws_fake', 'kubeconfig'), kubeconfigFor(api.url, TOKEN));
      const fake = engineHarness({ tools: () => tools, workspace: 'ws_fake', credentialsDir: credentials });
      try {
        const listed = await fake.run('kubectl_get', { namespace: 'default', resource: 'pods' });
        expect(listed).toMatchObject({ status: 'succeeded', exit_code: 0 });
        expect(listed.output).toContain('web-1');
        expect(
          await fake.run('kubectl_label', { namespace: 'default', resource: 'pods', name: 'web-1', label: 'tier=web' }),
        ).toMatchObject({ status: 'succeeded' });
        const cordoned = await fake.run('kubectl_node_cordon', { node: 'node-a' });
        expect(cordoned).toMatchObject({ status: 'succeeded', output: 'node/node-a cordoned\n' });
        expect(api.requests).toEqual(
          expect.arrayContaining([
            'GET /api/v1/namespaces/default/pods',
            'PATCH /api/v1/namespaces/default/pods/web-1 {"metadata":{"labels":{"tier":"web"}}}',
            'PATCH /api/v1/nodes/node-a {"spec":{"unschedulable":true}}',
          ]),
        );
      } finally {
        fake.close();
        api.close();
        rmSync(credentials, { recursive: true, force: true });
      }
    },
  );

  it('kubernetes: values that would act as flags are refused by the schema', async () => {
    for (const args of [
      { namespace: 'default', resource: '--all-namespaces' },
      { namespace: '-A', resource: 'pods' },
      { namespace: 'default', resource: 'pods', name: '--raw=/' },
    ]) {
      expect(await run('kubectl_get', args), JSON.stringify(args)).toMatchObject({
        status: 'rejected',
        error: { code: 'invalid_args' },
      });
    }
  });
});
