import { describe, expect, it } from 'vitest';
import { ConfigError, ConfigErrorCode } from '../../../services/runtime/config/errors.js';
import { loadConfig, type ConfigSources } from '../../../services/runtime/config/load.js';
import { parseConfigArgv } from '../../../services/runtime/config/argv.js';
import { defineConfigSchema, type KeySpec } from '../../../services/runtime/config/spec.js';
import { xemAgentConfigSchema, xemMetricsPortSchema } from '../../../services/xem-agent/config.js';

const DEFAULT_FILE = '/etc/xerotier/xem.yaml';
const REQUIRED = {
  XEM_ROUTER_URL: 'https://router.example',
  XEM_JOIN_KEY: 'jk_required_value',
  XEM_REGISTRATION_NAME: 'xem-required',
};

/** Three distinct valid values per key (file, env, flag) and the compiled value of each. */
const samples: Record<string, [raw: string, compiled: unknown][]> = {
  router_url: [
    ['https://file.example', 'https://file.example'],
    ['https://env.example', 'https://env.example'],
    ['https://flag.example', 'https://flag.example'],
  ],
  join_key: [
    ['jk_from_file', 'jk_from_file'],
    ['jk_from_env', 'jk_from_env'],
    ['jk_from_flag', 'jk_from_flag'],
  ],
  registration_name: [
    ['xem-file', 'xem-file'],
    ['xem-env', 'xem-env'],
    ['xem-flag', 'xem-flag'],
  ],
  lease_renewal_interval_ms: [
    ['1000', 1000],
    ['2000', 2000],
    ['3000', 3000],
  ],
  shutdown_grace_seconds: [
    ['5', 5],
    ['6', 6],
    ['7', 7],
  ],
  max_concurrent_executions: [
    ['4', 4],
    ['5', 5],
    ['6', 6],
  ],
  log_level: [
    ['debug', 'debug'],
    ['notice', 'notice'],
    ['warning', 'warning'],
  ],
  tools_dir: [
    ['/file/tools', '/file/tools'],
    ['/env/tools', '/env/tools'],
    ['/flag/tools', '/flag/tools'],
  ],
  credentials_dir: [
    ['/file/creds', '/file/creds'],
    ['/env/creds', '/env/creds'],
    ['/flag/creds', '/flag/creds'],
  ],
  signing_key_path: [
    ['/file/sign.hex', '/file/sign.hex'],
    ['/env/sign.hex', '/env/sign.hex'],
    ['/flag/sign.hex', '/flag/sign.hex'],
  ],
  curve_key_path: [
    ['/file/curve.hex', '/file/curve.hex'],
    ['/env/curve.hex', '/env/curve.hex'],
    ['/flag/curve.hex', '/flag/curve.hex'],
  ],
  queue_db_path: [
    ['/file/q.sqlite', '/file/q.sqlite'],
    ['/env/q.sqlite', '/env/q.sqlite'],
    ['/flag/q.sqlite', '/flag/q.sqlite'],
  ],
  router_auth_token: [
    ['rt_file_token', 'rt_file_token'],
    ['rt_env_token', 'rt_env_token'],
    ['rt_flag_token', 'rt_flag_token'],
  ],
  project_external_id: [
    ['proj_file', 'proj_file'],
    ['proj_env', 'proj_env'],
    ['proj_flag', 'proj_flag'],
  ],
};

const defaults: Record<string, unknown> = {
  lease_renewal_interval_ms: 10_000,
  shutdown_grace_seconds: 30,
  max_concurrent_executions: 20,
  log_level: 'info',
  tools_dir: '/var/lib/xerotier/tools',
  credentials_dir: '/var/lib/xerotier/credentials',
  signing_key_path: '/var/lib/xerotier/agent-signing-key.hex',
  curve_key_path: '/var/lib/xerotier/agent-curve-key.hex',
  queue_db_path: '/var/lib/xerotier/state/queue.sqlite',
  router_auth_token: undefined,
  project_external_id: undefined,
};

const keys = Object.entries(xemAgentConfigSchema.keys);
const envName = (key: string) => xemAgentConfigSchema.keys[key as keyof typeof xemAgentConfigSchema.keys].env;
const flagOf = (key: string) => `--${key.replaceAll('_', '-')}`;

function load(sources: Partial<ConfigSources> & { file?: string }) {
  const files = new Map<string, string>(
    sources.file === undefined ? [] : [[sources.configPath ?? DEFAULT_FILE, sources.file]],
  );
  return loadConfig(xemAgentConfigSchema, {
    env: sources.env ?? {},
    ...(sources.flags ? { flags: sources.flags } : {}),
    ...(sources.configPath ? { configPath: sources.configPath } : {}),
    readFile: (path) => files.get(path) ?? null,
  });
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('XEMAgentConfig keys', () => {
  it('covers every documented key with its env var, and nothing else', () => {
    expect(Object.keys(samples).sort()).toEqual(Object.keys(xemAgentConfigSchema.keys).sort());
    for (const [key, spec] of keys) expect(spec.env).toBe(`XEM_${key.toUpperCase()}`);
  });

  it('has the documented defaults and required trio', () => {
    const config = load({ env: REQUIRED });
    for (const [key, value] of Object.entries(defaults)) expect(config[key as keyof typeof config], key).toBe(value);
    expect(keys.filter(([, spec]) => (spec as KeySpec).required).map(([key]) => key)).toEqual([
      'router_url',
      'join_key',
      'registration_name',
    ]);
  });
});

describe.each(keys.map(([key]) => key))('XEM key %s', (key) => {
  const [fileValue, envValue, flagValue] = samples[key]!;
  const requiredEnvExceptKey = Object.fromEntries(Object.entries(REQUIRED).filter(([name]) => name !== envName(key)));

  it('is set by the file layer alone', () => {
    expect(load({ env: requiredEnvExceptKey, file: `${key}: "${fileValue![0]}"\n` })[key as never]).toEqual(
      fileValue![1],
    );
  });

  it('is set by the env layer alone', () => {
    expect(load({ env: { ...REQUIRED, [envName(key)]: envValue![0] } })[key as never]).toEqual(envValue![1]);
  });

  it('is set by the flag layer alone', () => {
    const args = parseConfigArgv(xemAgentConfigSchema, [flagOf(key), flagValue![0]]);
    expect(load({ env: requiredEnvExceptKey, flags: args.flags })[key as never]).toEqual(flagValue![1]);
  });

  it('resolves defaults < file < env < flags', () => {
    const file = `${key}: "${fileValue![0]}"\n`;
    const env = { ...REQUIRED, [envName(key)]: envValue![0] };
    const flags = parseConfigArgv(xemAgentConfigSchema, [flagOf(key), flagValue![0]]).flags;
    expect(load({ env: requiredEnvExceptKey, file })[key as never]).toEqual(fileValue![1]);
    expect(load({ env, file })[key as never]).toEqual(envValue![1]);
    expect(load({ env, file, flags })[key as never]).toEqual(flagValue![1]);
    expect(load({ env: requiredEnvExceptKey, file, flags })[key as never]).toEqual(flagValue![1]);
  });

  it('accepts an upper-case key in the file', () => {
    expect(
      load({ env: requiredEnvExceptKey, file: `${key.toUpperCase()}: "${fileValue![0]}"\n` })[key as never],
    ).toEqual(fileValue![1]);
  });
});

describe('XEM config file rules', () => {
  it('is fine when the default file is missing', () => {
    expect(load({ env: REQUIRED }).log_level).toBe('info');
  });

  it('fails when a file named by --config is missing', () => {
    const error = configError(() => load({ env: REQUIRED, configPath: '/nope/xem.yaml' }));
    expect(error.code).toBe(ConfigErrorCode.invalidConfigFile);
    expect(error.message).toBe('invalid config file /nope/xem.yaml: does not exist (named by --config)');
  });

  it('reads the file named by --config instead of the default', () => {
    const args = parseConfigArgv(xemAgentConfigSchema, ['--config', '/srv/xem.yaml']);
    expect(args.configPath).toBe('/srv/xem.yaml');
    expect(load({ env: REQUIRED, configPath: '/srv/xem.yaml', file: 'log_level: debug\n' }).log_level).toBe('debug');
  });

  it.each([
    [
      'a nested mapping',
      'tools_dir:\n  path: /x\n',
      'key "tools_dir" must be a scalar (string, number or boolean), got a nested mapping',
    ],
    [
      'a list',
      'log_level: [info, debug]\n',
      'key "log_level" must be a scalar (string, number or boolean), got a list',
    ],
    ['a top-level list', '- a\n- b\n', 'must be a flat mapping of key: value pairs'],
    ['a key set twice after lower-casing', 'LOG_LEVEL: info\nlog_level: debug\n', 'sets key "log_level" twice'],
    ['an unknown key close to a known one', 'tool_dir: /x\n', 'has unknown key "tool_dir" (did you mean "tools_dir"?)'],
    ['broken YAML', 'log_level: "unterminated\n', 'is not valid YAML'],
  ])('rejects %s with invalidConfigFile', (_, file, message) => {
    const error = configError(() => load({ env: REQUIRED, file }));
    expect(error.code).toBe(ConfigErrorCode.invalidConfigFile);
    expect(error.message).toContain(`invalid config file ${DEFAULT_FILE}: `);
    expect(error.message).toContain(message);
  });

  it('treats an empty file and null values as unset', () => {
    expect(load({ env: REQUIRED, file: '' }).tools_dir).toBe('/var/lib/xerotier/tools');
    expect(load({ env: REQUIRED, file: 'tools_dir:\n' }).tools_dir).toBe('/var/lib/xerotier/tools');
  });

  it('takes YAML numbers and booleans for typed keys', () => {
    expect(load({ env: REQUIRED, file: 'max_concurrent_executions: 7\n' }).max_concurrent_executions).toBe(7);
  });
});

describe('XEM config errors', () => {
  it('lists every missing required key together, with every way to set it', () => {
    const error = configError(() => load({ env: {} }));
    expect(error.code).toBe(ConfigErrorCode.missingRequiredConfig);
    expect(error.issues.map((issue) => issue.key)).toEqual(['router_url', 'join_key', 'registration_name']);
    expect(error.message.split('\n')[0]).toBe(
      'missing required xem-agent settings: router_url, join_key, registration_name',
    );
    expect(error.message).toContain(
      'router_url: set env XEM_ROUTER_URL, flag --router-url, "router_url" in the config file (/etc/xerotier/xem.yaml unless --config)',
    );
  });

  it('treats an empty environment variable as unset', () => {
    const error = configError(() => load({ env: { ...REQUIRED, XEM_JOIN_KEY: '' } }));
    expect(error.issues.map((issue) => issue.key)).toEqual(['join_key']);
  });

  it.each([
    [
      'lease_renewal_interval_ms',
      'XEM_LEASE_RENEWAL_INTERVAL_MS',
      'ten',
      'lease_renewal_interval_ms: expected an integer from 100 to 600000, got "ten" (from env XEM_LEASE_RENEWAL_INTERVAL_MS)',
    ],
    [
      'lease_renewal_interval_ms',
      'XEM_LEASE_RENEWAL_INTERVAL_MS',
      '10.5',
      'expected an integer from 100 to 600000, got "10.5"',
    ],
    [
      'shutdown_grace_seconds',
      'XEM_SHUTDOWN_GRACE_SECONDS',
      '-1',
      'shutdown_grace_seconds: expected an integer from 0 to 3600, got "-1"',
    ],
    [
      'max_concurrent_executions',
      'XEM_MAX_CONCURRENT_EXECUTIONS',
      '0',
      'max_concurrent_executions: expected an integer from 1 to 10000, got "0"',
    ],
    [
      'log_level',
      'XEM_LOG_LEVEL',
      'loud',
      'log_level: expected one of trace, debug, info, notice, warning, error, got "loud"',
    ],
    [
      'router_url',
      'XEM_ROUTER_URL',
      'router:8443',
      'router_url: expected a URL with scheme https:// or http://, got "router:8443"',
    ],
    ['router_url', 'XEM_ROUTER_URL', 'ftp://router', 'router_url: expected a URL with scheme https:// or http://'],
    [
      'registration_name',
      'XEM_REGISTRATION_NAME',
      'bad_name!',
      'registration_name: expected kebab-case or alphanumeric',
    ],
    ['registration_name', 'XEM_REGISTRATION_NAME', 'a'.repeat(49), 'of at most 48 characters'],
    [
      'project_external_id',
      'XEM_PROJECT_EXTERNAL_ID',
      'proj/../x',
      'project_external_id: expected an external project id',
    ],
  ])('rejects a bad %s from env with the key, layer and expectation', (_, variable, value, message) => {
    const error = configError(() => load({ env: { ...REQUIRED, [variable]: value } }));
    expect(error.code).toBe(ConfigErrorCode.invalidConfigValue);
    expect(error.message).toContain(message);
  });

  it('names the file for a bad value that came from the file', () => {
    const error = configError(() => load({ env: REQUIRED, file: 'max_concurrent_executions: many\n' }));
    expect(error.message).toContain(
      'max_concurrent_executions: expected an integer from 1 to 10000, got "many" (from file /etc/xerotier/xem.yaml)',
    );
  });

  it('names the flag for a bad value that came from a flag', () => {
    const flags = parseConfigArgv(xemAgentConfigSchema, ['--log-level', 'chatty']).flags;
    expect(configError(() => load({ env: REQUIRED, flags })).message).toContain('(from flag --log-level)');
  });

  it('reports bad values and missing keys in one error', () => {
    const error = configError(() => load({ env: { XEM_LOG_LEVEL: 'loud' } }));
    expect(error.code).toBe(ConfigErrorCode.invalidConfigValue);
    expect(error.issues.map((issue) => `${issue.problem}:${issue.key}`)).toEqual([
      'missing:router_url',
      'missing:join_key',
      'missing:registration_name',
      'invalid:log_level',
    ]);
  });

  it('never prints secret values', () => {
    const error = configError(() =>
      load({
        env: { ...REQUIRED, XEM_ROUTER_AUTH_TOKEN: '', XEM_JOIN_KEY: 'x' },
        file: 'router_auth_token: [secret-in-list]\n',
      }),
    );
    expect(error.message).not.toContain('secret-in-list');
    const strictJoinKey = defineConfigSchema({
      service: 'xem-agent',
      keys: {
        join_key: { kind: 'string', env: 'XEM_JOIN_KEY', secret: true, pattern: /^xjk_/, description: 'join key' },
      },
    });
    const rejected = configError(() => loadConfig(strictJoinKey, { env: { XEM_JOIN_KEY: 'jk_super_secret' } }));
    expect(rejected.message).toContain('join_key: expected');
    expect(rejected.message).toContain('<redacted>');
    expect(rejected.message).not.toContain('jk_super_secret');
  });

  it('rejects unknown flags and flags without values', () => {
    expect(configError(() => parseConfigArgv(xemAgentConfigSchema, ['--joinkey', 'x'])).code).toBe(
      ConfigErrorCode.invalidConfigFlag,
    );
    expect(configError(() => parseConfigArgv(xemAgentConfigSchema, ['--join-key'])).message).toContain(
      "'--join-key <value>' argument missing",
    );
  });

  it('returns a frozen object', () => {
    const config = load({ env: REQUIRED });
    expect(Object.isFrozen(config)).toBe(true);
  });
});

describe('XEROTIER_XEM_METRICS_PORT', () => {
  it('defaults to 9095 and is read from the environment only', () => {
    expect(loadConfig(xemMetricsPortSchema, { env: {} }).metrics_port).toBe(9095);
    expect(loadConfig(xemMetricsPortSchema, { env: { XEROTIER_XEM_METRICS_PORT: '9200' } }).metrics_port).toBe(9200);
    expect(xemMetricsPortSchema.file).toBeUndefined();
  });

  it('rejects a port out of range, naming the variable', () => {
    expect(
      configError(() => loadConfig(xemMetricsPortSchema, { env: { XEROTIER_XEM_METRICS_PORT: '70000' } })).message,
    ).toContain('metrics_port: expected an integer from 0 to 65535, got "70000" (from env XEROTIER_XEM_METRICS_PORT)');
  });

  it('is not a key of XEMAgentConfig, and XEROTIER_XEM_* names do not set XEM keys', () => {
    expect(Object.keys(xemAgentConfigSchema.keys)).not.toContain('metrics_port');
    expect(load({ env: { ...REQUIRED, XEROTIER_XEM_LOG_LEVEL: 'debug' } }).log_level).toBe('info');
  });
});
