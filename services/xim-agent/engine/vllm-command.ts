/** What vLLM is started with: the settings of the agent's XEROTIER_AGENT_VLLM_* keys. */
export interface VllmSettings {
  readonly model: string;
  readonly vllmPath: string;
  readonly socketPath: string;
  readonly extraArgs: readonly string[];
  readonly extraEnv: readonly string[];
  /** Left to vLLM's default when absent (the stacks size pods, not memory shares). */
  readonly gpuMemoryUtilization?: number;
  readonly tensorParallelSize: number;
  readonly maxNumSeqs?: number;
  readonly maxModelLen?: number;
  readonly quantization?: string;
}

/**
 * vLLM's arguments: `serve <model>` on the Unix socket, prefix caching on (the router's affinity
 * routing assumes it), the sizing keys, then the operator's extra arguments (last, so they win).
 * Pure, and the one definition: the agent's supervisor and the stacks' vLLM containers use it.
 */
export function vllmArgs(settings: Omit<VllmSettings, 'vllmPath' | 'extraEnv'>): string[] {
  return [
    'serve',
    settings.model,
    '--uds',
    settings.socketPath,
    '--enable-prefix-caching',
    ...(settings.gpuMemoryUtilization === undefined
      ? []
      : ['--gpu-memory-utilization', String(settings.gpuMemoryUtilization)]),
    '--tensor-parallel-size',
    String(settings.tensorParallelSize),
    ...(settings.maxNumSeqs ? ['--max-num-seqs', String(settings.maxNumSeqs)] : []),
    ...(settings.maxModelLen ? ['--max-model-len', String(settings.maxModelLen)] : []),
    ...(settings.quantization ? ['--quantization', settings.quantization] : []),
    ...settings.extraArgs,
  ];
}

/** The whole command: arguments, plus the extra `KEY=VALUE` environment (empty values skipped). */
export function vllmCommand(
  settings: VllmSettings,
  baseEnv: NodeJS.ProcessEnv,
): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...baseEnv };
  for (const entry of settings.extraEnv) {
    const at = entry.indexOf('=');
    if (at > 0 && at < entry.length - 1) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return { command: settings.vllmPath, args: vllmArgs(settings), env };
}
