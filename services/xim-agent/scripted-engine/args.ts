export interface EngineArgs {
  readonly model: string;
  readonly host: string;
  readonly port: number;
  readonly uds?: string;
  readonly tokensPerSecond: number;
  readonly failAfterTokens?: number;
}

// vLLM flags that take a value: skipped with their value so `--tool-call-parser hermes` does not
// leave `hermes` behind as a stray positional.
const VALUED = new Set([
  '--tool-call-parser',
  '--chat-template',
  '--max-model-len',
  '--gpu-memory-utilization',
  '--tensor-parallel-size',
  '--dtype',
  '--download-dir',
  '--api-key',
  '--max-num-seqs',
  '--max-num-batched-tokens',
  '--block-size',
  '--seed',
  '--scheduling-policy',
  '--served-model-name',
]);

/**
 * Reads `[serve] <model>` or `--model <m>`, `--host`, `--port`, `--uds`, and the scripted
 * engine's own `--tokens-per-second` and `--fail-after-tokens`; other `--flags` are vLLM's and
 * ignored. `--served-model-name` renames the model, as in vLLM.
 */
export function parseEngineArgs(argv: readonly string[]): EngineArgs | { error: string } {
  const values = new Map<string, string>();
  const positionals: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index]!;
    if (!arg.startsWith('--')) positionals.push(arg);
    else if (arg.includes('=')) values.set(arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1));
    else if (
      ['--model', '--host', '--port', '--uds', '--tokens-per-second', '--fail-after-tokens'].includes(arg) ||
      VALUED.has(arg)
    )
      values.set(arg, argv[(index += 1)] ?? '');
  }
  const model =
    values.get('--served-model-name') ?? values.get('--model') ?? positionals.filter((word) => word !== 'serve')[0];
  if (!model) return { error: 'no model: pass it as `serve <model>` or --model <model>' };
  const number = (flag: string, fallback: number | undefined) =>
    values.has(flag) ? Number(values.get(flag)) : fallback;
  const port = number('--port', 8000)!;
  const tokensPerSecond = number('--tokens-per-second', 0)!;
  const failAfterTokens = number('--fail-after-tokens', undefined);
  for (const [flag, value] of [
    ['--port', port],
    ['--tokens-per-second', tokensPerSecond],
    ['--fail-after-tokens', failAfterTokens],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0))
      return { error: `${flag} must be a non-negative integer` };
  }
  return {
    model,
    host: values.get('--host') ?? '127.0.0.1',
    port,
    tokensPerSecond,
    ...(values.has('--uds') ? { uds: values.get('--uds')! } : {}),
    ...(failAfterTokens !== undefined ? { failAfterTokens } : {}),
  };
}
