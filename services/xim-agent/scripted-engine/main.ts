#!/usr/bin/env node
import { rmSync } from 'node:fs';
import { parseEngineArgs } from './args.js';
import { createScriptedEngine } from './server.js';

/**
 * `scripted-engine serve <model> [vLLM flags…]`, or `--model <m>`: starts the scripted engine
 * the way vLLM's `vllm serve` is started, so the XIM agent's supervisor can run it unchanged
 * (flags it does not know are accepted and ignored). SIGTERM/SIGINT: stop accepting, finish
 * open streams, exit 0; a second signal exits at once.
 */
const parsed = parseEngineArgs(process.argv.slice(2));
if ('error' in parsed) {
  process.stderr.write(`scripted-engine: ${parsed.error}\n`);
  process.exit(2);
}
const options = parsed;
const server = createScriptedEngine({
  model: options.model,
  tokensPerSecond: options.tokensPerSecond,
  ...(options.failAfterTokens !== undefined ? { failAfterTokens: options.failAfterTokens } : {}),
});
if (options.uds) rmSync(options.uds, { force: true });
const ready = () =>
  process.stdout.write(
    `scripted engine serving ${options.model} on ${options.uds ?? `http://${options.host}:${String((server.address() as { port: number }).port)}`}\n`,
  );
if (options.uds) server.listen(options.uds, ready);
else server.listen(options.port, options.host, ready);
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    server.close(() => process.exit(0));
    server.closeIdleConnections();
  });
}
