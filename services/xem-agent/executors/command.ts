import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface CommandRun {
  readonly argv: readonly string[];
  readonly cwd?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  /** Captured output beyond this is dropped (and reported as truncated). @default 256 KiB */
  readonly maxOutputBytes?: number;
  /** SIGTERM first; SIGKILL this long after if the process is still there. @default 2000 */
  readonly killGraceMs?: number;
  readonly signal?: AbortSignal;
  readonly onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
  /** The process started; its pid leads its own process group. */
  readonly onStart?: (pid: number) => void;
}

export interface CommandOutcome {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
  readonly output: string;
  readonly truncated: boolean;
  readonly durationMs: number;
}

/**
 * Runs one tool command: argv exactly as given (no shell), in its own process group so the
 * timeout or a cancel reaches its children too (SIGTERM, then SIGKILL after a grace), with
 * output streamed and captured up to a cap.
 */
export function runCommand(run: CommandRun): Promise<CommandOutcome> {
  const started = Date.now();
  const limit = run.maxOutputBytes ?? 256 * 1024;
  const child = spawn(run.argv[0]!, run.argv.slice(1), {
    cwd: run.cwd,
    env: run.env,
    shell: false,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid !== undefined) run.onStart?.(child.pid);
  const captured: Buffer[] = [];
  let size = 0;
  let truncated = false;
  const state = { timedOut: false, cancelled: false };
  for (const [stream, name] of [
    [child.stdout, 'stdout'],
    [child.stderr, 'stderr'],
  ] as const) {
    stream.on('data', (chunk: Buffer) => {
      run.onOutput?.(name, chunk.toString('utf8'));
      const room = limit - size;
      if (room <= 0) return void (truncated = true);
      if (chunk.length > room) truncated = true;
      captured.push(chunk.subarray(0, room));
      size += Math.min(room, chunk.length);
    });
  }
  const stop = (reason: 'timedOut' | 'cancelled') => {
    state[reason] = true;
    signalGroup(child.pid, 'SIGTERM');
    setTimeout(() => signalGroup(child.pid, 'SIGKILL'), run.killGraceMs ?? 2_000).unref();
  };
  const timer = setTimeout(() => stop('timedOut'), run.timeoutMs);
  const onAbort = () => stop('cancelled');
  run.signal?.addEventListener('abort', onAbort, { once: true });
  return new Promise((resolve) => {
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      run.signal?.removeEventListener('abort', onAbort);
      resolve({
        exitCode,
        signal,
        ...state,
        output: Buffer.concat(captured).toString('utf8'),
        truncated,
        durationMs: Date.now() - started,
      });
    };
    child.once('error', (error) => {
      captured.push(
        Buffer.from(`cannot start ${run.argv[0]}: ${(error as NodeJS.ErrnoException).code ?? error.message}\n`),
      );
      finish(127, null);
    });
    child.once('close', finish);
  });
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** A process's start time in clock ticks since boot (Linux), or null when it is not running. */
export function processStartTicks(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Stops what a dead agent left running: the process group, if its leader is still the very
 * process that was started (same start time), so a recycled pid is never signalled.
 */
export function stopLeftoverGroup(pgid: number, startedTicks: string | null): boolean {
  if (startedTicks === null || processStartTicks(pgid) !== startedTicks) return false;
  signalGroup(pgid, 'SIGKILL');
  return true;
}
