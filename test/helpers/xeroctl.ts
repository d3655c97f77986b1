import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { cleanEnv } from './processes.js';

export interface XeroctlRun {
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
  readonly kill: (signal?: NodeJS.Signals) => void;
}

export interface XeroctlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The test's own XEROCTL_* settings never leak in: each run says what it uses. */
function withoutXeroctl(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !name.startsWith('XEROCTL_') || name === 'XEROCTL_API_KEY'),
  );
}

/** The real CLI as a person runs it (`bin/xeroctl.mjs`, the package's bin), as its own process. */
export function startXeroctl(
  args: readonly string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): XeroctlRun {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'xeroctl.mjs'), ...args], {
    cwd: REPO_ROOT,
    env: withoutXeroctl(cleanEnv({ NO_COLOR: '1', ...options.env })),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  child.stdin.end(options.stdin ?? '');
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { stdout: () => out, stderr: () => err, exited, kill: (signal = 'SIGTERM') => void child.kill(signal) };
}

export async function xeroctl(
  args: readonly string[],
  options: { env?: Record<string, string>; stdin?: string } = {},
): Promise<XeroctlResult> {
  const run = startXeroctl(args, options);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}
