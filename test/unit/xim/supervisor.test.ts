import { describe, expect, it } from 'vitest';
import { restartDelay } from '../../../services/xim-agent/engine/supervisor.js';
import { vllmCommand } from '../../../services/xim-agent/engine/vllm-command.js';

const settings = {
  model: 'meta/llama',
  vllmPath: '/opt/vllm/bin/vllm',
  socketPath: '/run/vllm.sock',
  extraArgs: [],
  extraEnv: [],
  gpuMemoryUtilization: 0.85,
  tensorParallelSize: 2,
};

describe('vllmCommand', () => {
  it("puts the operator's extra arguments last, so they win over the agent's", () => {
    const { command, args } = vllmCommand(
      { ...settings, quantization: 'awq', maxModelLen: 8192, extraArgs: ['--gpu-memory-utilization', '0.5'] },
      {},
    );
    expect(command).toBe('/opt/vllm/bin/vllm');
    expect(args).toEqual([
      'serve',
      'meta/llama',
      '--uds',
      '/run/vllm.sock',
      '--enable-prefix-caching',
      '--gpu-memory-utilization',
      '0.85',
      '--tensor-parallel-size',
      '2',
      '--max-model-len',
      '8192',
      '--quantization',
      'awq',
      '--gpu-memory-utilization',
      '0.5',
    ]);
  });

  it("adds KEY=VALUE environment over the agent's own, skipping empty values and malformed entries", () => {
    const { env } = vllmCommand(
      { ...settings, extraEnv: ['HF_HOME=/models', 'EMPTY=', 'NOEQUALS', '=x', 'PATH=/opt/vllm/bin'] },
      { PATH: '/usr/bin', HOME: '/home/x' },
    );
    expect(env).toEqual({ PATH: '/opt/vllm/bin', HOME: '/home/x', HF_HOME: '/models' });
  });
});

describe('restartDelay', () => {
  it('doubles from the initial delay and stops at the cap', () => {
    expect([0, 1, 2, 3, 10, 60].map((restarts) => restartDelay(restarts, 1_000, 60_000))).toEqual([
      1_000, 2_000, 4_000, 8_000, 60_000, 60_000,
    ]);
  });
});
