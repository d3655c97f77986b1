import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBundles } from '../../../services/xem-agent/bundles/loader.js';
import { buildManifest, ManifestVersions, servedWorkspaces } from '../../../services/xem-agent/bundles/manifest.js';
import { renderArgv } from '../../../services/xem-agent/executors/argv.js';
import { runCommand } from '../../../services/xem-agent/executors/command.js';
import { waitFor } from '../../helpers/processes.js';

const roots: string[] = [];
function toolsRoot(bundles: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'xerotier-tools-'));
  roots.push(root);
  for (const [name, yaml] of Object.entries(bundles)) {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, 'bundle.yaml'), yaml);
  }
  return root;
}
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

const ECHO_BUNDLE = `
name: echo
version: 1.0.0
domain: test
tools:
  - name: echo_args
    description: prints the argv it was given
    risk: read
    timeout_ms: 5000
    parameters:
      type: object
      additionalProperties: false
      required: [database]
      properties:
        database: { type: string, maxLength: 200 }
        limit: { type: integer, minimum: 1 }
    command:
      argv: ["${process.execPath}", "-e", "console.log(JSON.stringify(process.argv.slice(1)))", "--", "{{database}}", "{{limit}}"]
`;

describe('tool bundles', () => {
  it('loads a valid bundle and compiles its parameter schema', () => {
    const { tools, problems } = loadBundles(toolsRoot({ echo: ECHO_BUNDLE }));
    expect(problems).toEqual([]);
    const tool = tools.get('echo_args')!;
    expect(tool).toMatchObject({ bundle: 'echo', domain: 'test', spec: { risk: 'read', timeout_ms: 5000 } });
    expect(tool.validateArgs({ database: 'app' })).toBe(true);
    expect(tool.validateArgs({ database: 'app', extra: 1 })).toBe(false);
    expect(tool.validateArgs({ database: 'app', limit: '5; rm -rf /' })).toBe(false);
  });

  it('passes hostile arguments to the command as inert argv elements', async () => {
    const { tools } = loadBundles(toolsRoot({ echo: ECHO_BUNDLE }));
    const tool = tools.get('echo_args')!;
    for (const hostile of ['; rm -rf /', '$(id)', '`id`', '--help', '../../etc/passwd', "' OR 1=1 --", 'a\nb']) {
      expect(tool.validateArgs({ database: hostile })).toBe(true);
      const argv = renderArgv(tool.spec.command!.argv, { database: hostile });
      const outcome = await runCommand({ argv, env: {}, timeoutMs: 5_000 });
      expect(outcome.exitCode).toBe(0);
      expect(JSON.parse(outcome.output)).toEqual([hostile]);
    }
  });

  it('rejects names and paths that could leave the tools directory (S22)', () => {
    const outside = mkdtempSync(join(tmpdir(), 'xerotier-outside-'));
    roots.push(outside);
    writeFileSync(join(outside, 'bundle.yaml'), ECHO_BUNDLE.replace('name: echo', 'name: escape'));
    const root = toolsRoot({ echo: ECHO_BUNDLE });
    symlinkSync(outside, join(root, 'escape'));
    mkdirSync(join(root, 'linked'));
    symlinkSync('/etc/passwd', join(root, 'linked', 'bundle.yaml'));
    mkdirSync(join(root, 'Bad Name'));
    mkdirSync(join(root, 'pоstgres')); // Cyrillic о
    mkdirSync(join(root, '.git'));
    const { tools, problems } = loadBundles(root);
    expect([...tools.keys()]).toEqual(['echo_args']);
    expect(problems).toEqual(
      expect.arrayContaining([
        { file: 'escape', message: 'resolves outside the tools directory' },
        { file: 'linked/bundle.yaml', message: 'resolves outside the tools directory' },
        expect.objectContaining({ file: '"Bad Name"', message: expect.stringContaining('must match') }),
        expect.objectContaining({ file: '"pоstgres"', message: expect.stringContaining('must match') }),
      ]),
    );
    expect(problems).toHaveLength(4); // hidden entries (.git) are skipped silently
  });

  it.each([
    ['an unknown risk', (y: string) => y.replace('risk: read', 'risk: harmless'), { tool: 'echo_args', field: 'risk' }],
    [
      'a bad tool name',
      (y: string) => y.replace('name: echo_args', 'name: Echo-Args'),
      { tool: 'Echo-Args', field: 'name' },
    ],
    [
      'a missing timeout',
      (y: string) => y.replace('    timeout_ms: 5000\n', ''),
      { tool: 'echo_args', field: '(tool)' },
    ],
    [
      'a placeholder inside an element',
      (y: string) => y.replace('"{{database}}"', '"--db={{database}}"'),
      { tool: 'echo_args', field: 'command.argv' },
    ],
    [
      'an undeclared placeholder',
      (y: string) => y.replace('"{{limit}}"', '"{{table}}"'),
      { tool: 'echo_args', field: 'command.argv' },
    ],
    [
      'an invalid JSON Schema',
      (y: string) => y.replace('type: integer', 'type: whole'),
      { tool: 'echo_args', field: 'parameters' },
    ],
    ['a name that is not the directory', (y: string) => y.replace('name: echo\n', 'name: other\n'), { field: 'name' }],
  ])('reports %s naming the file, tool and field', (_, edit, where) => {
    const { tools, problems } = loadBundles(toolsRoot({ echo: edit(ECHO_BUNDLE) }));
    expect(tools.size).toBe(0);
    expect(problems).toEqual([expect.objectContaining({ file: 'echo/bundle.yaml', ...where })]);
  });
});

describe('command executor', () => {
  it('kills a command past its timeout, with its children', async () => {
    const outcome = await runCommand({
      argv: ['/bin/sh', '-c', 'sleep 31 & sleep 31'],
      env: {},
      timeoutMs: 300,
      killGraceMs: 200,
    });
    expect(outcome.timedOut).toBe(true);
    expect(outcome.signal).toBe('SIGTERM');
    // The background child too: nothing of the group is left.
    expect(
      await waitFor('the children gone', 5_000, () =>
        spawnSync('pgrep', ['-f', 'sleep 31']).status === 1 ? true : undefined,
      ),
    ).toBe(true);
  });

  it('caps captured output and says so, while streaming all of it', async () => {
    let streamed = 0;
    const outcome = await runCommand({
      argv: [process.execPath, '-e', "process.stdout.write('x'.repeat(100000))"],
      env: {},
      timeoutMs: 5_000,
      maxOutputBytes: 1_000,
      onOutput: (_, text) => (streamed += text.length),
    });
    expect(outcome.output).toHaveLength(1_000);
    expect(outcome.truncated).toBe(true);
    expect(streamed).toBe(100_000);
  });

  it('cancels on abort and reports a missing binary clearly', async () => {
    const controller = new AbortController();
    const running = runCommand({ argv: ['/bin/sleep', '30'], env: {}, timeoutMs: 10_000, signal: controller.signal });
    controller.abort();
    expect(await running).toMatchObject({ cancelled: true, timedOut: false });
    const missing = await runCommand({ argv: ['/nonexistent/tool'], env: {}, timeoutMs: 1_000 });
    expect(missing.exitCode).toBe(127);
    expect(missing.output).toContain('cannot start /nonexistent/tool: ENOENT');
  });
});

describe('capability manifest', () => {
  it('lists tools and served workspaces, hashes stably and bumps its version only on change', () => {
    const root = toolsRoot({ echo: ECHO_BUNDLE });
    const credentials = mkdtempSync(join(tmpdir(), 'xerotier-creds-'));
    roots.push(credentials);
    mkdirSync(join(credentials, 'ws_prod'));
    writeFileSync(join(credentials, 'ws_prod', 'postgres.env'), 'PGPASSWORD=canary-secret-value\n');
    writeFileSync(join(credentials, 'not-a-workspace.txt'), 'x');
    const { tools } = loadBundles(root);
    const versions = new ManifestVersions();
    const first = versions.current(buildManifest(tools, servedWorkspaces(credentials)));
    expect(first.manifest).toMatchObject({
      workspaces: ['ws_prod'],
      tools: [{ name: 'echo_args', risk: 'read', domain: 'test', requires_credentials: false }],
    });
    expect(JSON.stringify(first.manifest)).not.toContain('canary-secret-value');
    expect(JSON.stringify(first.manifest)).not.toContain(root);
    expect(versions.current(buildManifest(tools, servedWorkspaces(credentials)))).toMatchObject({
      version: first.version,
      hash: first.hash,
    });
    mkdirSync(join(credentials, 'ws_staging'));
    const second = versions.current(buildManifest(tools, servedWorkspaces(credentials)));
    expect(second.version).toBe(first.version + 1);
    expect(second.hash).not.toBe(first.hash);
  });

  it('offers no tools, and says why, when the tools directory is missing', () => {
    const { tools, problems } = loadBundles('/nonexistent/xerotier-tools');
    expect(tools.size).toBe(0);
    expect(problems[0]?.message).toContain('does not exist');
  });
});
