import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../../services/devstack/dev-state.js';
import { loadBundles, type LoadedTool } from '../../../services/xem-agent/bundles/loader.js';
import { plainEnvironment } from '../../../services/xem-agent/execution/engine.js';
import { discoverMcpTools, riskFromAnnotations } from '../../../services/xem-agent/executors/mcp.js';
import { engineHarness, type EngineHarness } from '../../helpers/xem-engine.js';

const WORKSPACE = 'ws_mcp';
const TOKEN = 'canary-mcp-token-42424242';

describe("mcp executor: a stdio MCP server's tools, with risks from their annotations", () => {
  const dir = mkdtempSync(join(tmpdir(), 'xerotier-mcp-'));
  const tools = new Map<string, LoadedTool>();
  let problems: { tool?: string; message: string }[] = [];
  let local: EngineHarness;

  beforeAll(async () => {
    mkdirSync(join(dir, 'tools', 'demo'), { recursive: true });
    writeFileSync(
      join(dir, 'tools', 'demo', 'bundle.yaml'),
      stringify({
        name: 'demo',
        version: '1',
        domain: 'demo',
        mcp: {
          argv: [process.execPath, join(REPO_ROOT, 'test/fixtures/mcp/demo-server.mjs')],
          timeout_ms: 10_000,
          credentials_ref: 'demo.env',
          overrides: { purge: { risk: 'irreversible' } },
        },
      }),
    );
    mkdirSync(join(dir, 'credentials', WORKSPACE), { recursive: true });
    writeFileSync(join(dir, 'credentials', WORKSPACE, 'demo.env'), `DEMO_TOKEN=${TOKEN}\n`);
    const loaded = loadBundles(join(dir, 'tools'));
    const discovered = await discoverMcpTools(loaded.mcp, plainEnvironment(process.env));
    for (const tool of discovered.tools) tools.set(tool.spec.name, tool);
    problems = [...loaded.problems, ...discovered.problems];
    local = engineHarness({ tools: () => tools, workspace: WORKSPACE, credentialsDir: join(dir, 'credentials') });
  });
  afterAll(() => {
    local.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (tool: string, args: Record<string, unknown>, timeoutMs = 10_000) => local.run(tool, args, timeoutMs);

  it('maps annotations to risk: readOnly → read, not destructive → write, absent or destructive → destructive; the bundle overrides', () => {
    expect(Object.fromEntries([...tools.values()].map((tool) => [tool.spec.name, tool.spec.risk]))).toEqual({
      lookup: 'read',
      set_flag: 'write',
      wipe: 'destructive',
      purge: 'irreversible',
      show_env: 'read',
    });
    expect(problems).toEqual([expect.objectContaining({ tool: 'Bad-Name' })]);
    expect(riskFromAnnotations({}, undefined)).toBe('destructive');
    expect(riskFromAnnotations({ readOnlyHint: true }, 'write')).toBe('write');
  });

  it('calls a tool on the server and reports its text', async () => {
    expect(await run('lookup', { key: 'alpha' })).toMatchObject({ status: 'succeeded', output: 'value of alpha' });
  });

  it("validates arguments against the tool's input schema first", async () => {
    expect(await run('lookup', { key: 7 })).toMatchObject({ status: 'rejected', error: { code: 'invalid_args' } });
  });

  it('reports a tool error as failed, a slow tool as timed out', async () => {
    expect(await run('wipe', {})).toMatchObject({ status: 'failed', output: 'refusing to wipe in a test' });
    expect(await run('purge', {}, 1_000)).toMatchObject({ status: 'timed_out' });
  });

  it('hands the server the workspace credentials and scrubs them from what it says', async () => {
    expect(await run('show_env', {})).toMatchObject({ status: 'succeeded', output: 'token=[REDACTED]' });
  });
});
