import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the first IPC message of the given type (or of any of the types). */
  waitForMessage(type: string | readonly string[], timeoutMs: number): Promise<Record<string, unknown>>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL if it has not exited within graceMs. */
  stop(graceMs: number): Promise<void>;
  /** The last lines the process printed, for saying why it died. */
  recentOutput(): string[];
}

export interface SpawnServiceOptions {
  readonly name: string;
  /** A TypeScript entry point, run with node --import tsx. */
  readonly entry: string;
  readonly args?: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly logFile: string;
  /** Where to echo the child's output, each line prefixed with its name; none when undefined. */
  readonly echo?: NodeJS.WritableStream;
}

/**
 * Starts a service as a child with an IPC channel, in its own process group: a terminal's Ctrl-C
 * reaches only the supervisor, which then stops children in order. Children stop themselves
 * when the channel closes, so a supervisor killed outright leaves no orphans behind.
 */
export function spawnService(options: SpawnServiceOptions): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', options.entry, ...(options.args ?? [])], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  const log = createWriteStream(options.logFile, { flags: 'a', mode: 0o600 });
  const recent: string[] = [];
  pipeLines(child, (line) => {
    log.write(`${line}\n`);
    options.echo?.write(`[${options.name}] ${line}\n`);
    recent.push(line);
    if (recent.length > 30) recent.shift();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  void exited.then(() => log.end());
  return {
    name: options.name,
    child,
    exited,
    waitForMessage: (type, timeoutMs) => waitForMessage(child, options.name, type, timeoutMs),
    stop: (graceMs) => stopChild(child, exited, graceMs),
    recentOutput: () => [...recent],
  };
}

function pipeLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', onLine);
  }
}

function waitForMessage(
  child: ChildProcess,
  name: string,
  type: string | readonly string[],
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const types: readonly unknown[] = typeof type === 'string' ? [type] : type;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => done(new Error(`${name} did not report ${types.join(' or ')} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (message: unknown): void => {
      if (message && typeof message === 'object' && types.includes((message as { type?: unknown }).type))
        done(undefined, message as Record<string, unknown>);
    };
    const onExit = (code: number | null): void =>
      done(new Error(`${name} exited (code ${code}) before reporting ${types.join(' or ')}`));
    function done(error?: Error, message?: Record<string, unknown>): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message!);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
