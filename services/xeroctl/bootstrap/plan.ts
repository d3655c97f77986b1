import { posix } from 'node:path';
import { stringify } from 'yaml';

/** One thing bootstrap does to a host, decided before anything is touched (and printed by --dry-run). */
export type Step =
  | { readonly kind: 'user'; readonly name: string }
  | {
      readonly kind: 'dir';
      readonly path: string;
      readonly mode: number;
      readonly owner: string;
      readonly group: string;
    }
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly mode: number;
      readonly owner: string;
      readonly group: string;
      readonly content: string;
      /** Holds a secret: --dry-run prints its path, never its content. */
      readonly secret?: boolean;
    }
  | { readonly kind: 'command'; readonly argv: readonly string[] };

export interface BootstrapInput {
  readonly routerUrl: string;
  readonly joinKey: string;
  readonly registrationName: string;
  /** The account the agent runs as. */
  readonly user: string;
  /** The agent's executable (the package's `xerotier-xem-agent` bin, or the image's). */
  readonly agentBinary: string;
  readonly logLevel: string;
  readonly shutdownGraceSeconds: number;
  /** Enable and start the unit when done (needs systemd, and root '/'). */
  readonly start: boolean;
}

export const CONFIG_DIR = '/etc/xerotier';
export const STATE_DIR = '/var/lib/xerotier';
export const UNIT_PATH = '/etc/systemd/system/xerotier-xem-agent.service';

/** xem.yaml as the seed has it: flat keys, no secret (the join key is in the env file). */
export function agentYaml(input: BootstrapInput): string {
  return `# Written by xeroctl bootstrap. Settings: docs/configuration.md (xem-agent); the join key is in xem.env.\n${stringify(
    {
      router_url: input.routerUrl,
      registration_name: input.registrationName,
      log_level: input.logLevel,
      shutdown_grace_seconds: input.shutdownGraceSeconds,
      tools_dir: posix.join(STATE_DIR, 'tools'),
      credentials_dir: posix.join(STATE_DIR, 'credentials'),
      signing_key_path: posix.join(STATE_DIR, 'keys', 'agent-signing-key.hex'),
      curve_key_path: posix.join(STATE_DIR, 'keys', 'agent-curve-key.hex'),
      queue_db_path: posix.join(STATE_DIR, 'state', 'queue.sqlite'),
    },
  )}`;
}

/**
 * The unit: the agent as its own unprivileged user, the join key from a file only that user
 * reads, the host read-only but its state directory, and a stop that waits out the agent's
 * drain (its grace period) before systemd forces it.
 */
export function systemdUnit(input: BootstrapInput): string {
  return [
    '[Unit]',
    'Description=Xerotier XEM execution agent',
    'Documentation=https://github.com/xerotier (docs/xem-agent.md)',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${input.user}`,
    `Group=${input.user}`,
    `EnvironmentFile=${CONFIG_DIR}/xem.env`,
    `ExecStart=${input.agentBinary} --config ${CONFIG_DIR}/xem.yaml`,
    'Restart=on-failure',
    'RestartSec=5',
    'KillMode=mixed',
    'KillSignal=SIGTERM',
    `TimeoutStopSec=${input.shutdownGraceSeconds + 15}`,
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    `ReadWritePaths=${STATE_DIR}/keys ${STATE_DIR}/state`,
    'UMask=0077',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** Every step, in order. Directories first, so each file lands in a folder with its final mode. */
export function bootstrapPlan(input: BootstrapInput): Step[] {
  const user = input.user;
  const dir = (path: string, mode: number, owner: string, group = owner) => ({
    kind: 'dir' as const,
    path,
    mode,
    owner,
    group,
  });
  return [
    { kind: 'user', name: user },
    dir(CONFIG_DIR, 0o755, 'root', 'root'),
    // Root's, so the agent cannot rename what is in it (its tools, its credentials); it writes
    // only its own keys and its outbox.
    dir(STATE_DIR, 0o750, 'root', user),
    // Tools and credentials are installed by people and only read by the agent.
    dir(posix.join(STATE_DIR, 'tools'), 0o750, 'root', user),
    dir(posix.join(STATE_DIR, 'credentials'), 0o750, 'root', user),
    dir(posix.join(STATE_DIR, 'keys'), 0o700, user),
    dir(posix.join(STATE_DIR, 'state'), 0o700, user),
    {
      kind: 'file',
      path: posix.join(CONFIG_DIR, 'xem.yaml'),
      mode: 0o640,
      owner: 'root',
      group: user,
      content: agentYaml(input),
    },
    {
      kind: 'file',
      path: posix.join(CONFIG_DIR, 'xem.env'),
      mode: 0o600,
      owner: user,
      group: user,
      content: `XEM_JOIN_KEY=${input.joinKey}\n`,
      secret: true,
    },
    dir('/etc/systemd/system', 0o755, 'root', 'root'),
    { kind: 'file', path: UNIT_PATH, mode: 0o644, owner: 'root', group: 'root', content: systemdUnit(input) },
    ...(input.start
      ? [
          { kind: 'command' as const, argv: ['systemctl', 'daemon-reload'] },
          { kind: 'command' as const, argv: ['systemctl', 'enable', '--now', 'xerotier-xem-agent.service'] },
        ]
      : []),
  ];
}

const octal = (mode: number) => `0${mode.toString(8)}`;

/** A step as --dry-run prints it. */
export function describeStep(step: Step): string {
  if (step.kind === 'user') return `create system user ${step.name} (if missing)`;
  if (step.kind === 'dir') return `mkdir ${step.path} ${octal(step.mode)} ${step.owner}:${step.group}`;
  if (step.kind === 'command') return `run ${step.argv.join(' ')}`;
  const body = step.secret ? '  (holds the join key; not shown)' : step.content.replace(/^/gm, '  | ').trimEnd();
  return `write ${step.path} ${octal(step.mode)} ${step.owner}:${step.group}\n${body}`;
}
