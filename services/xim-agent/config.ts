import { LOG_LEVELS, REGISTRATION_NAME_HINT, REGISTRATION_NAME_PATTERN } from '../runtime/config/common-keys.js';
import { defineConfigSchema, type ConfigOf } from '../runtime/config/spec.js';

const STATE_DIR = '/var/lib/inference/.config/xerotier';

/**
 * XIMAgentConfig: the inference agent's XEROTIER_AGENT_* settings. Same layering as the XEM
 * agent (defaults < /etc/xerotier/xim.yaml < env < flags); the join key is needed only until
 * the agent has enrolled.
 */
export const ximAgentConfigSchema = defineConfigSchema({
  service: 'xim-agent',
  file: { defaultPath: '/etc/xerotier/xim.yaml' },
  keys: {
    router_url: {
      kind: 'url',
      protocols: ['https', 'http'],
      env: 'XEROTIER_AGENT_ROUTER_URL',
      required: true,
      description: 'HTTPS endpoint of the router used for enrollment',
    },
    join_key: {
      kind: 'string',
      env: 'XEROTIER_AGENT_JOIN_KEY',
      secret: true,
      description: 'Enrollment join key; needed on first run only',
    },
    registration_name: {
      kind: 'string',
      env: 'XEROTIER_AGENT_REGISTRATION_NAME',
      required: true,
      maxLength: 48,
      pattern: REGISTRATION_NAME_PATTERN,
      patternHint: REGISTRATION_NAME_HINT,
      description: 'Stable name the router tracks this agent by',
    },
    allow_insecure: {
      kind: 'boolean',
      env: 'XEROTIER_AGENT_ALLOW_INSECURE',
      default: false,
      flag: 'insecure',
      description: 'Allow non-HTTPS router URLs (development only)',
    },
    log_level: {
      kind: 'enum',
      values: LOG_LEVELS,
      env: 'XEROTIER_AGENT_LOG_LEVEL',
      default: 'info',
      description: 'Log verbosity: trace, debug, info, notice, warning, error',
    },
    service_tiers: {
      kind: 'list',
      env: 'XEROTIER_AGENT_SERVICE_TIERS',
      default: [],
      description:
        'Service tiers this agent serves (e.g. gpu_nvidia_shared), published in its manifest: an endpoint of another tier is not routed here. Empty: every tier',
    },
    max_concurrent: {
      kind: 'integer',
      env: 'XEROTIER_AGENT_MAX_CONCURRENT',
      default: 'auto',
      auto: true,
      min: 1,
      max: 4_096,
      description: 'Ceiling on concurrent inference requests; auto derives it from the engine',
    },
    metrics_port: {
      kind: 'port',
      env: 'XEROTIER_AGENT_METRICS_PORT',
      default: 9094,
      description: 'Prometheus metrics port (0 picks a free port)',
    },
    disable_metrics_server: {
      kind: 'boolean',
      env: 'XEROTIER_AGENT_DISABLE_METRICS_SERVER',
      default: false,
      description: 'Do not start the metrics HTTP server',
    },
    lease_renewal_interval_ms: {
      kind: 'integer',
      env: 'XEROTIER_AGENT_LEASE_RENEWAL_INTERVAL_MS',
      default: 10_000,
      min: 100,
      max: 600_000,
      description: 'Cadence (milliseconds) for lease renewal messages to the router',
    },
    shutdown_grace_seconds: {
      kind: 'integer',
      env: 'XEROTIER_AGENT_SHUTDOWN_GRACE_SECONDS',
      default: 30,
      min: 0,
      max: 3_600,
      description: 'Time to let in-flight streams finish on SIGTERM',
    },
    model: {
      kind: 'string',
      env: 'XEROTIER_AGENT_MODEL',
      maxLength: 256,
      description:
        'Model vLLM serves (a Hugging Face id or a local path); required unless XEROTIER_AGENT_ENGINE_URL is set',
    },
    vllm_path: {
      kind: 'path',
      env: 'XEROTIER_AGENT_VLLM_PATH',
      default: 'vllm',
      description: 'vLLM launcher; a bare name is looked up on PATH',
    },
    vllm_args: {
      kind: 'list',
      env: 'XEROTIER_AGENT_VLLM_ARGS',
      default: [],
      flag: 'vllm-arg',
      description: 'Extra vLLM arguments (space-separated)',
    },
    vllm_env: {
      kind: 'list',
      env: 'XEROTIER_AGENT_VLLM_ENV',
      default: [],
      flag: 'vllm-env',
      description: 'Extra vLLM environment as KEY=VALUE (space-separated; empty values skipped)',
    },
    vllm_socket_path: {
      kind: 'path',
      env: 'XEROTIER_AGENT_VLLM_SOCKET_PATH',
      default: '/tmp/xerotier-engine.sock',
      description: 'Unix socket path used to dial vLLM (--uds)',
    },
    vllm_salt_secret: {
      kind: 'string',
      env: 'XEROTIER_AGENT_VLLM_SALT_SECRET',
      secret: true,
      description: 'Server secret for tenant-isolated prefix-cache salts',
    },
    vllm_quantization: {
      kind: 'string',
      env: 'XEROTIER_AGENT_VLLM_QUANTIZATION',
      flag: 'quantization',
      pattern: /^[a-z0-9_-]+$/,
      patternHint: 'a vLLM quantization name such as awq, gptq or fp8',
      description: 'Quantization method passed to vLLM',
    },
    gpu_memory_utilization: {
      kind: 'number',
      env: 'XEROTIER_AGENT_GPU_MEMORY_UTILIZATION',
      default: 0.9,
      min: 0.05,
      max: 1,
      description: 'Fraction of GPU memory vLLM may use',
    },
    max_num_seqs: {
      kind: 'integer',
      env: 'XEROTIER_AGENT_MAX_NUM_SEQS',
      min: 1,
      description: 'vLLM --max-num-seqs',
    },
    max_model_len: {
      kind: 'integer',
      env: 'XEROTIER_AGENT_MAX_MODEL_LEN',
      min: 1,
      description: 'vLLM --max-model-len (model default when unset)',
    },
    tensor_parallel_size: {
      kind: 'integer',
      env: 'XEROTIER_AGENT_TENSOR_PARALLEL_SIZE',
      default: 1,
      min: 1,
      max: 64,
      description: 'vLLM --tensor-parallel-size',
    },
    engine_url: {
      kind: 'url',
      protocols: ['http', 'https', 'unix'],
      env: 'XEROTIER_AGENT_ENGINE_URL',
      description: 'Attach to an existing OpenAI-compatible server instead of supervising vLLM',
    },
    signing_key_path: {
      kind: 'path',
      env: 'XEROTIER_AGENT_SIGNING_KEY_PATH',
      default: `${STATE_DIR}/agent-signing-key.hex`,
      description: 'Persisted Ed25519 signing-key file',
    },
    curve_key_path: {
      kind: 'path',
      env: 'XEROTIER_AGENT_CURVE_KEY_PATH',
      default: `${STATE_DIR}/agent-curve-key.hex`,
      description: 'Persisted CURVE private-key file',
    },
    enrollment_path: {
      kind: 'path',
      env: 'XEROTIER_AGENT_ENROLLMENT_PATH',
      default: `${STATE_DIR}/enrollment.json`,
      description: 'Where the enrollment (agent id, token, router key) is kept so restarts skip enrollment',
    },
  },
  check(config) {
    // Compiled with every other problem, not discovered when the engine starts.
    if (config.model === undefined && config.engine_url === undefined) {
      return [
        {
          key: 'model',
          expected: 'the model vLLM serves (or set XEROTIER_AGENT_ENGINE_URL to attach to a running engine)',
        },
      ];
    }
    return [];
  },
});

export type XIMAgentConfig = ConfigOf<typeof ximAgentConfigSchema.keys>;
