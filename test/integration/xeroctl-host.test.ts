import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { loadConfig } from '../../services/runtime/config/load.js';
import { xemAgentConfigSchema } from '../../services/xem-agent/config.js';
import { xeroctl } from '../helpers/xeroctl.js';

const JOIN_KEY = 'xjk_test_0123456789abcdefghijklmnopqrstuv';
const mode = (path: string) => statSync(path).mode & 0o777;

/**
 * What xeroctl does on a host without a router: bootstrap a XEM host under --root (the files,
 * their modes and owners, a config the agent's own loader accepts), and completion scripts that
 * load in bash and complete.
 */
describe('xeroctl on a host', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'xeroctl-root-'));
    // The image root knows the service user, so owners are set (when the test runs as root).
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(
      join(root, 'etc', 'passwd'),
      'root:x:0:0::/root:/bin/sh\nxerotier:x:5150:5150::/var/lib/xerotier:/usr/sbin/nologin\n',
    );
    writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\nxerotier:x:5150:\n');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const args = ['bootstrap', '--router-url', 'https://router.example.test', '--name', 'db-host-1'];

  it('--dry-run prints every step, never the key, and writes nothing', async () => {
    const dry = await xeroctl([...args, '--join-key', JOIN_KEY, '--root', root, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('write /etc/xerotier/xem.env 0600 xerotier:xerotier');
    expect(dry.stdout).toContain('mkdir /var/lib/xerotier/keys 0700 xerotier:xerotier');
    expect(dry.stdout).toContain('User=xerotier');
    expect(dry.stdout + dry.stderr).not.toContain(JOIN_KEY);
    expect(existsSync(join(root, 'etc', 'xerotier'))).toBe(false);
  });

  it('writes the config, a key file only the agent reads, the directories and a unit; the agent accepts the config', async () => {
    const done = await xeroctl([...args, '--join-key-stdin', '--root', root], { stdin: `${JOIN_KEY}\n` });
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout + done.stderr).not.toContain(JOIN_KEY);
    const etc = join(root, 'etc', 'xerotier');
    const yaml = readFileSync(join(etc, 'xem.yaml'), 'utf8');
    expect(yaml).not.toContain(JOIN_KEY);
    expect(readFileSync(join(etc, 'xem.env'), 'utf8')).toBe(`XEM_JOIN_KEY=${JOIN_KEY}\n`);
    expect([mode(etc), mode(join(etc, 'xem.yaml')), mode(join(etc, 'xem.env'))]).toEqual([0o755, 0o640, 0o600]);
    const lib = join(root, 'var', 'lib', 'xerotier');
    expect(['', 'tools', 'credentials', 'keys', 'state'].map((dir) => mode(join(lib, dir)))).toEqual([
      0o750, 0o750, 0o750, 0o700, 0o700,
    ]);
    const unit = readFileSync(join(root, 'etc', 'systemd', 'system', 'xerotier-xem-agent.service'), 'utf8');
    expect(unit).toContain('EnvironmentFile=/etc/xerotier/xem.env');
    expect(unit).toContain('ExecStart=/usr/local/bin/xerotier-xem-agent --config /etc/xerotier/xem.yaml');
    expect(unit).toContain('TimeoutStopSec=45');
    if (process.getuid?.() === 0) {
      expect(statSync(join(etc, 'xem.env')).uid).toBe(5150);
      expect([statSync(join(etc, 'xem.yaml')).uid, statSync(join(etc, 'xem.yaml')).gid]).toEqual([0, 5150]);
      expect(statSync(join(lib, 'state')).uid).toBe(5150);
      // The agent owns only its keys and outbox: the folder holding its tools is root's.
      expect([statSync(lib).uid, statSync(join(lib, 'tools')).uid]).toEqual([0, 0]);
    }
    // The agent's own loader, with the key from the env file as systemd would pass it.
    const config = loadConfig(xemAgentConfigSchema, {
      env: { XEM_JOIN_KEY: JOIN_KEY },
      configPath: join(etc, 'xem.yaml'),
      readFile: (path) => readFileSync(path, 'utf8'),
    });
    expect(config).toMatchObject({
      router_url: 'https://router.example.test',
      registration_name: 'db-host-1',
      queue_db_path: '/var/lib/xerotier/state/queue.sqlite',
    });
  });

  it('refuses to change a path an untrusted agent replaced with a link, on a second run', async () => {
    const state = join(root, 'var', 'lib', 'xerotier', 'state');
    rmSync(state, { recursive: true, force: true });
    const target = join(root, 'victim');
    mkdirSync(target, { mode: 0o755 });
    symlinkSync(target, state);
    const again = await xeroctl([...args, '--join-key', JOIN_KEY, '--root', root]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is a symbolic link: refusing to change it');
    expect(mode(target)).toBe(0o755);
    rmSync(state);
    mkdirSync(state, { mode: 0o700 });
  });

  it('refuses a missing key or a bad registration name as usage', async () => {
    expect((await xeroctl([...args, '--join-key', JOIN_KEY, '--user', 'root', '--root', root])).code).toBe(2);
    expect((await xeroctl([...args, '--join-key', 'xjk_a\nExecStartPre=/bin/sh', '--root', root])).code).toBe(2);
    expect((await xeroctl([...args, '--root', root])).code).toBe(2);
    expect(
      (
        await xeroctl([
          'bootstrap',
          '--router-url',
          'https://r.test',
          '--join-key',
          JOIN_KEY,
          '--name',
          'no_underscores',
          '--root',
          root,
        ])
      ).code,
    ).toBe(2);
  });

  it('prints a bash completion script that loads and completes commands and options', async () => {
    const script = (await xeroctl(['completion', 'bash'])).stdout;
    const file = join(root, 'xeroctl.bash');
    writeFileSync(file, script);
    execFileSync('bash', ['-n', file]);
    const complete = (line: string) => {
      const words = line.split(' ');
      const probe = `source ${file}; COMP_WORDS=(${words.map((word) => `'${word}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _xeroctl; printf '%s\\n' "\${COMPREPLY[@]}"`;
      return spawnSync('bash', ['-c', probe], { encoding: 'utf8' }).stdout.trim().split('\n');
    };
    expect(complete('xeroctl ex')).toEqual(['exec']);
    expect(complete('xeroctl exec in')).toEqual(['invoke']);
    expect(complete('xeroctl --context prod approvals ap')).toEqual(['approve']);
    expect(complete('xeroctl exec invoke --w')).toEqual(expect.arrayContaining(['--wait', '--workspace']));
    expect(complete('xeroctl agents list -o j')).toEqual(['json']);
  });

  it('prints zsh and fish scripts (checked by their shells when installed)', async () => {
    for (const shell of ['zsh', 'fish']) {
      const printed = await xeroctl(['completion', shell]);
      expect(printed.code).toBe(0);
      expect(printed.stdout).toContain(
        shell === 'zsh' ? 'bashcompinit' : "complete -c xeroctl -n '__fish_use_subcommand' -a 'exec'",
      );
      const file = join(root, `xeroctl.${shell}`);
      writeFileSync(file, printed.stdout);
      if (spawnSync('which', [shell]).status === 0) execFileSync(shell, ['-n', file]);
    }
    expect((await xeroctl(['completion', 'tcsh'])).code).toBe(2);
  });

  it('is the package bin, runnable without a build', () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(manifest.bin['xeroctl']).toBe('bin/xeroctl.mjs');
    expect(mode(join(REPO_ROOT, 'bin', 'xeroctl.mjs')) & 0o111).not.toBe(0);
  });
});
