import type { Logger } from './logger.js';

/** Releases one resource. The signal aborts when the shutdown deadline passes. */
export type Closer = (signal: AbortSignal) => Promise<void> | void;

export interface Lifecycle {
  /** Registers a closer; closers run once, in reverse order of registration. */
  defer(name: string, closer: Closer): void;
  /** Runs every closer (LIFO) once; later calls return the same promise. */
  close(reason: string): Promise<void>;
  readonly closing: boolean;
  /** Aborted when close() starts, so loops can stop taking work. */
  readonly stopping: AbortSignal;
}

export interface LifecycleOptions {
  readonly logger: Logger;
  /** How long the closers get in total before the signal they receive aborts. */
  readonly graceMs: number;
}

export function createLifecycle(options: LifecycleOptions): Lifecycle {
  const closers: { name: string; closer: Closer }[] = [];
  const stopping = new AbortController();
  let closed: Promise<void> | undefined;
  return {
    defer(name, closer) {
      if (closed) throw new Error(`cannot register closer "${name}" after shutdown started`);
      closers.push({ name, closer });
    },
    close(reason) {
      closed ??= runClosers(closers.splice(0).reverse(), reason, options, stopping);
      return closed;
    },
    get closing() {
      return closed !== undefined;
    },
    stopping: stopping.signal,
  };
}

async function runClosers(
  ordered: readonly { name: string; closer: Closer }[],
  reason: string,
  options: LifecycleOptions,
  stopping: AbortController,
): Promise<void> {
  options.logger.info({ reason, grace_ms: options.graceMs }, 'shutting down');
  stopping.abort(new Error(reason));
  const deadline = AbortSignal.timeout(Math.max(1, options.graceMs));
  const failures: unknown[] = [];
  for (const { name, closer } of ordered) {
    try {
      await closer(deadline);
      options.logger.debug({ resource: name }, 'closed');
    } catch (error) {
      failures.push(error);
      options.logger.error({ err: error, resource: name }, 'failed to close cleanly');
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} resource(s) failed to close`);
}

/** The part of `process` the signal handler needs; tests pass a fake. */
export interface SignalTarget {
  on(event: NodeJS.Signals, listener: () => void): unknown;
  off(event: NodeJS.Signals, listener: () => void): unknown;
  exit(code: number): void;
}

export interface ShutdownSignalOptions {
  readonly lifecycle: Lifecycle;
  readonly logger: Logger;
  /** Past this the process exits with code 1 even if closers still run. */
  readonly graceMs: number;
  readonly signals?: readonly NodeJS.Signals[];
  readonly target?: SignalTarget;
}

/**
 * Owned by each main.ts. First SIGTERM/SIGINT: drain through the lifecycle within graceMs, then
 * exit 0 (1 if a closer failed). Deadline passed, or a second signal: exit 1 at once.
 * Returns a function removing the handlers.
 */
export function handleShutdownSignals(options: ShutdownSignalOptions): () => void {
  const target = options.target ?? process;
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received += 1;
    if (received > 1) {
      options.logger.warning({ signal }, 'second signal: forcing exit');
      target.exit(1);
      return;
    }
    const force = setTimeout(() => {
      options.logger.error({ grace_ms: options.graceMs }, 'shutdown grace period expired: forcing exit');
      target.exit(1);
    }, options.graceMs + 1_000);
    force.unref();
    options.lifecycle.close(`received ${signal}`).then(
      () => finish(target, force, 0),
      () => finish(target, force, 1),
    );
  };
  const listeners = signals.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, listener] of listeners) target.on(signal, listener);
  return () => {
    for (const [signal, listener] of listeners) target.off(signal, listener);
  };
}

function finish(target: SignalTarget, force: NodeJS.Timeout, code: number): void {
  clearTimeout(force);
  target.exit(code);
}
