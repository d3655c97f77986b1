import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Logger } from '../../runtime/logger.js';

/** Delay before restart number `restarts` (0-based): doubling from `initialMs`, capped. */
export function restartDelay(restarts: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(restarts, 20));
}

export interface EngineSupervisor {
  /** Times the engine died and was started again. */
  readonly restarts: number;
  readonly pid: number | undefined;
  /** SIGTERM, then SIGKILL past the grace period; no restart after this. */
  stop(graceMs: number): Promise<void>;
}

export interface SupervisorOptions {
  readonly command: { command: string; args: string[]; env: NodeJS.ProcessEnv };
  readonly socketPath: string;
  readonly logger: Logger;
  /** @default 1000 */
  readonly initialBackoffMs?: number;
  /** @default 60000 */
  readonly maxBackoffMs?: number;
  /** An engine up this long is healthy again: the backoff starts over. @default 60000 */
  readonly stableAfterMs?: number;
}

/**
 * Runs vLLM as a child and keeps it running: when it exits on its own, it is started again after
 * a backoff that doubles while it keeps dying. Its output goes to this process's stderr, each
 * line as vLLM wrote it. Health is not judged here: the engine probe reads `/health`.
 */
export function superviseEngine(options: SupervisorOptions): EngineSupervisor {
  const initial = options.initialBackoffMs ?? 1_000;
  const max = options.maxBackoffMs ?? 60_000;
  let child: ChildProcess | undefined;
  let stopping = false;
  let restarts = 0;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  const start = () => {
    // A socket left by a killed engine would make the new one fail to bind.
    rmSync(options.socketPath, { force: true });
    const startedAt = Date.now();
    const spawned = spawn(options.command.command, options.command.args, {
      env: options.command.env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child = spawned;
    options.logger.info({ pid: spawned.pid, command: options.command.command }, 'engine started');
    let ended = false;
    const died = (detail: Record<string, unknown>) => {
      if (ended || stopping) return;
      ended = true;
      failures = Date.now() - startedAt >= (options.stableAfterMs ?? 60_000) ? 0 : failures + 1;
      const delay = restartDelay(Math.max(0, failures - 1), initial, max);
      options.logger.error({ ...detail, restart_in_ms: delay }, 'engine exited; restarting');
      restarts += 1;
      timer = setTimeout(start, delay);
    };
    // A command that cannot start (not found, not executable) reports an error and maybe no exit.
    spawned.on('error', (error) => died({ err: { message: error.message }, command: options.command.command }));
    spawned.on('exit', (code, signal) => died({ code, signal }));
  };
  start();
  return {
    get restarts() {
      return restarts;
    },
    get pid() {
      return child?.pid;
    },
    async stop(graceMs) {
      stopping = true;
      clearTimeout(timer);
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      const force = setTimeout(() => running.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(force);
    },
  };
}
