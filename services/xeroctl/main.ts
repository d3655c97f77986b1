import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { packageVersion } from '../runtime/package-version.js';
import { CliError, EXIT } from './exit-codes.js';
import { colorWanted, type Terminal } from './output/terminal.js';
import { runCli } from './program.js';

/** Lines from stdin, one at a time, shared by every prompt of the run. */
function stdinLines() {
  let reader: ReturnType<typeof createInterface> | undefined;
  let iterator: AsyncIterator<string> | undefined;
  return async (prompt: string): Promise<string | undefined> => {
    reader ??= createInterface({ input: process.stdin, terminal: false });
    iterator ??= reader[Symbol.asyncIterator]();
    if (prompt) process.stderr.write(prompt);
    const next = await iterator.next();
    return next.done ? undefined : next.value;
  };
}

/** A secret typed at a terminal is not echoed; piped in, it is the next line. */
function secretReader(readLine: (prompt: string) => Promise<string | undefined>) {
  return async (prompt: string): Promise<string | undefined> => {
    if (!process.stdin.isTTY) return readLine(prompt);
    process.stderr.write(prompt);
    process.stdin.setRawMode(true);
    process.stdin.resume();
    let typed = '';
    try {
      for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
        for (const char of chunk.toString('utf8')) {
          if (char === '\r' || char === '\n') return typed;
          if (char === '\u0003') throw new CliError('interrupted', EXIT.interrupted);
          typed = char === '\u007f' ? typed.slice(0, -1) : typed + char;
        }
      }
      return typed;
    } finally {
      process.stdin.setRawMode(false);
      process.stdin.pause();
      process.stderr.write('\n');
    }
  };
}

const readLine = stdinLines();
const terminal: Terminal = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  interactive: process.stdout.isTTY === true,
  canPrompt: process.stdin.isTTY === true && process.stderr.isTTY === true,
  color: colorWanted(process.env, process.stdout.isTTY === true, !process.argv.includes('--no-color')),
  readLine,
  readSecret: secretReader(readLine),
};
const interrupt = new AbortController();
process.once('SIGINT', () => interrupt.abort());
process.once('SIGTERM', () => interrupt.abort());

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  terminal,
  fetch,
  now: () => new Date(),
  readFile: (path) => readFileSync(path, 'utf8'),
  version: packageVersion(import.meta.url),
  interrupted: interrupt.signal,
});
// Wait for stdout to drain (a pipe may be slow) before the exit code is set.
process.stdout.write('', () => process.exit(code));
