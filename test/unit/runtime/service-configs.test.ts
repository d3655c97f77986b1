import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../services/runtime/config/errors.js';
import { loadConfig } from '../../../services/runtime/config/load.js';
import { parseConfigArgv } from '../../../services/runtime/config/argv.js';
import { pickConfigSchema } from '../../../services/runtime/config/spec.js';
import { telemetryConfigSchema } from '../../../services/runtime/telemetry-config.js';
import { routerConfigSchema } from '../../../services/router/config.js';
import { ximAgentConfigSchema } from '../../../services/xim-agent/config.js';

const noFile = () => null;
const ROUTER = {
  XEROTIER_DATABASE_URL: 'postgres://u:p@db/x',
  XEROTIER_COMPLETION_ENCRYPTION_KEY: 'a'.repeat(64),
  XEROTIER_TOKEN_SIGNING_KEY: 'b'.repeat(64),
  XEROTIER_ROUTER_CURVE_SECRET_KEY: 'c'.repeat(40),
  XEROTIER_AUDIT_SIGNING_KEY: 'd'.repeat(64),
};
const XIM = {
  XEROTIER_AGENT_ROUTER_URL: 'https://router.example',
  XEROTIER_AGENT_REGISTRATION_NAME: 'gpu-01',
  XEROTIER_AGENT_MODEL: 'org/model',
};

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('router settings', () => {
  it('has the documented names and defaults', () => {
    const config = loadConfig(routerConfigSchema, { env: ROUTER, readFile: noFile });
    expect(config).toMatchObject({
      cache_backend: 'memory',
      heartbeat_timeout_ms: 30_000,
      mesh_bind: 'tcp://0.0.0.0:5555',
      metrics_port: 9092,
    });
    const envs = Object.values(routerConfigSchema.keys).map((spec) => spec.env);
    expect(envs).toEqual(
      expect.arrayContaining([
        'XEROTIER_DATABASE_URL',
        'XEROTIER_REDIS_URL',
        'XEROTIER_CACHE_BACKEND',
        'XEROTIER_API_RATE_LIMIT_RPM',
        'XEROTIER_ROUTER_HEARTBEAT_TIMEOUT_MS',
        'XEROTIER_COMPLETION_ENCRYPTION_KEY',
        'XEROTIER_TLS_CERT_PATH',
        'XEROTIER_TLS_KEY_PATH',
        'XEROTIER_MESH_BIND',
        'XEROTIER_ROUTER_METRICS_PORT',
      ]),
    );
  });

  it('requires the database URL and the encryption key', () => {
    expect(messageOf(() => loadConfig(routerConfigSchema, { env: {}, readFile: noFile }))).toContain(
      'missing required router settings: database_url, completion_encryption_key, token_signing_key, curve_secret_key, audit_signing_key',
    );
  });

  it('checks rules that span keys', () => {
    const message = messageOf(() =>
      loadConfig(routerConfigSchema, {
        env: {
          ...ROUTER,
          XEROTIER_CACHE_BACKEND: 'redis',
          XEROTIER_TLS_CERT_PATH: '/c.pem',
          XEROTIER_ROUTER_HEARTBEAT_TIMEOUT_MS: '5000',
        },
        readFile: noFile,
      }),
    );
    expect(message).toContain('redis_url: expected a Redis URL because cache_backend is redis');
    expect(message).toContain('tls_cert_path: expected tls_cert_path and tls_key_path to be set together');
    expect(message).toContain('heartbeat_timeout_ms: expected a timeout longer than lease_renewal_interval_ms');
  });

  it('takes a next CURVE key only with its own endpoint, never on mesh_bind, and never echoes it', () => {
    const next = 'Q'.repeat(40);
    const alone = messageOf(() =>
      loadConfig(routerConfigSchema, {
        env: { ...ROUTER, XEROTIER_ROUTER_CURVE_SECRET_KEY_NEXT: next },
        readFile: noFile,
      }),
    );
    expect(alone).toContain('mesh_next_bind: expected set together with the other');
    expect(alone).not.toContain(next);
    const same = messageOf(() =>
      loadConfig(routerConfigSchema, {
        env: {
          ...ROUTER,
          XEROTIER_ROUTER_CURVE_SECRET_KEY_NEXT: next,
          XEROTIER_MESH_BIND: 'tcp://0.0.0.0:5555',
          XEROTIER_MESH_NEXT_BIND: 'tcp://0.0.0.0:5555',
        },
        readFile: noFile,
      }),
    );
    expect(same).toContain('mesh_next_bind: expected an endpoint other than mesh_bind');
  });

  it('refuses secrets in the config file', () => {
    const message = messageOf(() =>
      loadConfig(routerConfigSchema, { env: ROUTER, readFile: () => 'database_url: postgres://x/y\n' }),
    );
    expect(message).toContain(
      'may not set "database_url": it is a secret accepted only from XEROTIER_DATABASE_URL or a flag',
    );
    expect(message).not.toContain('postgres://x/y');
  });

  it('validates the encryption key format without echoing it', () => {
    const message = messageOf(() =>
      loadConfig(routerConfigSchema, {
        env: { ...ROUTER, XEROTIER_COMPLETION_ENCRYPTION_KEY: 'short-secret' },
        readFile: noFile,
      }),
    );
    expect(message).toContain(
      'completion_encryption_key: expected a 32-byte key as 64 hex characters or 44 base64 characters, got <redacted>',
    );
    expect(message).not.toContain('short-secret');
  });

  it('lets a command pick only the keys it needs', () => {
    const migrate = pickConfigSchema(routerConfigSchema, ['database_url', 'log_level']);
    expect(
      loadConfig(migrate, { env: { XEROTIER_DATABASE_URL: ROUTER.XEROTIER_DATABASE_URL }, readFile: noFile }),
    ).toEqual({
      database_url: ROUTER.XEROTIER_DATABASE_URL,
      log_level: 'info',
    });
  });
});

describe('XIM agent settings', () => {
  it('needs the model to supervise vLLM unless it attaches to an engine, reported with every other problem', () => {
    const { XEROTIER_AGENT_MODEL: _model, ...noModel } = XIM;
    expect(messageOf(() => loadConfig(ximAgentConfigSchema, { env: noModel, readFile: noFile }))).toContain(
      'model: expected the model vLLM serves',
    );
    expect(
      loadConfig(ximAgentConfigSchema, {
        env: { ...noModel, XEROTIER_AGENT_ENGINE_URL: 'unix:///run/vllm.sock' },
        readFile: noFile,
      }).model,
    ).toBeUndefined();
  });

  it('uses the XEROTIER_AGENT_* prefix with the documented defaults', () => {
    const config = loadConfig(ximAgentConfigSchema, { env: XIM, readFile: noFile });
    expect(config).toMatchObject({
      allow_insecure: false,
      log_level: 'info',
      max_concurrent: null,
      metrics_port: 9094,
      vllm_path: 'vllm',
      vllm_socket_path: '/tmp/xerotier-engine.sock',
      vllm_args: [],
      join_key: undefined,
    });
    for (const spec of Object.values(ximAgentConfigSchema.keys)) expect(spec.env).toMatch(/^XEROTIER_AGENT_/);
  });

  it.each([
    ['1', true],
    ['true', true],
    ['TRUE', true],
    ['0', false],
    ['false', false],
  ])('reads ALLOW_INSECURE=%s as %s', (value, expected) => {
    expect(
      loadConfig(ximAgentConfigSchema, { env: { ...XIM, XEROTIER_AGENT_ALLOW_INSECURE: value }, readFile: noFile })
        .allow_insecure,
    ).toBe(expected);
  });

  it('rejects other boolean spellings', () => {
    expect(
      messageOf(() =>
        loadConfig(ximAgentConfigSchema, { env: { ...XIM, XEROTIER_AGENT_ALLOW_INSECURE: 'yes' }, readFile: noFile }),
      ),
    ).toContain('allow_insecure: expected true, false, 1 or 0, got "yes" (from env XEROTIER_AGENT_ALLOW_INSECURE)');
  });

  it('takes max_concurrent as a number or auto', () => {
    expect(
      loadConfig(ximAgentConfigSchema, { env: { ...XIM, XEROTIER_AGENT_MAX_CONCURRENT: '8' }, readFile: noFile })
        .max_concurrent,
    ).toBe(8);
    expect(
      messageOf(() =>
        loadConfig(ximAgentConfigSchema, { env: { ...XIM, XEROTIER_AGENT_MAX_CONCURRENT: 'lots' }, readFile: noFile }),
      ),
    ).toContain('expected an integer from 1 to 4096 or "auto"');
  });

  it('splits vLLM args from env and collects repeated flags', () => {
    expect(
      loadConfig(ximAgentConfigSchema, {
        env: { ...XIM, XEROTIER_AGENT_VLLM_ARGS: '--enforce-eager  --seed 1' },
        readFile: noFile,
      }).vllm_args,
    ).toEqual(['--enforce-eager', '--seed', '1']);
    const flags = parseConfigArgv(ximAgentConfigSchema, [
      '--vllm-arg=--enforce-eager',
      '--vllm-arg',
      '--seed=1',
      '--insecure',
    ]).flags;
    const config = loadConfig(ximAgentConfigSchema, { env: XIM, flags, readFile: noFile });
    expect(config.vllm_args).toEqual(['--enforce-eager', '--seed=1']);
    expect(config.allow_insecure).toBe(true);
  });
});

describe('tracing settings', () => {
  it('are off by default with sample rate 1.0', () => {
    expect(loadConfig(telemetryConfigSchema, { env: {} })).toEqual({
      otel_enabled: false,
      otel_endpoint: undefined,
      otel_service_name: undefined,
      otel_sample_rate: 1,
    });
  });

  it('need an endpoint when enabled, and a rate within 0..1', () => {
    expect(messageOf(() => loadConfig(telemetryConfigSchema, { env: { XEROTIER_OTEL_ENABLED: 'true' } }))).toContain(
      'otel_endpoint: expected an OTLP endpoint',
    );
    expect(messageOf(() => loadConfig(telemetryConfigSchema, { env: { XEROTIER_OTEL_SAMPLE_RATE: '1.5' } }))).toContain(
      'otel_sample_rate: expected a number from 0 to 1, got "1.5" (from env XEROTIER_OTEL_SAMPLE_RATE)',
    );
  });
});
