import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import { applyStep } from '../bootstrap/apply.js';
import { bootstrapPlan, describeStep } from '../bootstrap/plan.js';
import { CliError, EXIT, usageError } from '../exit-codes.js';
import { integerIn, type Kit } from '../kit.js';

interface BootstrapOptions {
  routerUrl: string;
  joinKey?: string;
  joinKeyStdin?: boolean;
  name?: string;
  user: string;
  agentBinary: string;
  logLevel: string;
  grace: number;
  root: string;
  dryRun?: boolean;
  start?: boolean;
}

const NAME = /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;

export function registerBootstrap(program: Command, kit: Kit): void {
  const bootstrap = program
    .command('bootstrap')
    .description(
      'set up a XEM host: its config, a join key only the agent reads, directories with their owners and modes, a systemd unit',
    )
    .requiredOption('--router-url <url>', "the router's URL")
    .option('--join-key <key>', 'the join key (prefer --join-key-stdin: arguments show in ps)')
    .option('--join-key-stdin', 'read the join key from stdin')
    .option('--name <name>', 'the registration name (default: the host name)')
    .option('--user <name>', 'the account the agent runs as', 'xerotier')
    .option('--agent-binary <path>', "the agent's executable", '/usr/local/bin/xerotier-xem-agent')
    .addOption(
      new Option('--log-level <level>', 'the agent log level')
        .choices(['trace', 'debug', 'info', 'notice', 'warning', 'error'])
        .default('info'),
    )
    .addOption(new Option('--grace <seconds>', "the agent's shutdown grace").argParser(integerIn(0, 3_600)).default(30))
    .option('--root <dir>', 'write under this folder instead of / (for images and tests)', '/')
    .option('--dry-run', 'print what it would do and change nothing')
    .option('--start', 'then enable and start the unit (systemctl; only with root /)');
  kit.examples(
    bootstrap,
    "printf %s 'xjk_…' | sudo xeroctl bootstrap --router-url https://router.example.com --join-key-stdin --start",
    'xeroctl bootstrap --router-url https://router.example.com --join-key-stdin --name db-host-1 --dry-run',
    'XEM_JOIN_KEY=xjk_… xeroctl bootstrap --router-url https://router.example.com --root ./image-root',
  );
  kit.act<BootstrapOptions>(bootstrap, async (run, options) => {
    const joinKey =
      options.joinKey ??
      (options.joinKeyStdin ? await kit.deps.terminal.readSecret('Join key: ') : kit.deps.env['XEM_JOIN_KEY']);
    if (!joinKey?.trim())
      throw usageError(
        'a join key is needed: --join-key, --join-key-stdin or XEM_JOIN_KEY (xeroctl join-keys mint NAME gives one)',
      );
    if (!/^https?:\/\//.test(options.routerUrl))
      throw usageError(`--router-url must be an http(s) URL, not "${options.routerUrl}"`);
    if (!/^[A-Za-z0-9_-]+$/.test(joinKey.trim())) throw usageError('the join key holds characters no join key has');
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(options.user) || options.user === 'root')
      throw usageError(`--user must be an unprivileged account name, not "${options.user}"`);
    if (!/^\/[^\s]+$/.test(options.agentBinary))
      throw usageError('--agent-binary must be an absolute path without spaces');
    const name = options.name ?? hostname().split('.')[0]!;
    if (!NAME.test(name) || name.length > 48)
      throw usageError(`"${name}" is not a registration name (letters, digits and single dashes; --name)`);
    const steps = bootstrapPlan({
      routerUrl: options.routerUrl,
      joinKey: joinKey.trim(),
      registrationName: name,
      user: options.user,
      agentBinary: options.agentBinary,
      logLevel: options.logLevel,
      shutdownGraceSeconds: options.grace,
      start: Boolean(options.start),
    });
    if (options.dryRun) {
      run.out(`${steps.map(describeStep).join('\n')}\n`);
      return;
    }
    const asRoot = process.getuid?.() === 0;
    if (options.root === '/' && !asRoot)
      throw new CliError(
        'bootstrap writes /etc and /var/lib: run it as root (sudo), or with --root DIR',
        EXIT.auth,
        'not_root',
      );
    const host = { root: options.root, asRoot, note: (text: string) => run.note(text) };
    for (const step of steps) applyStep(host, step);
    run.note(
      `XEM host "${name}" set up${options.root === '/' ? '' : ` under ${options.root}`}. ${options.start ? 'The agent is starting: xeroctl agents list shows it once enrolled.' : 'Start it with: systemctl enable --now xerotier-xem-agent'}`,
    );
  });
}
