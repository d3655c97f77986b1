import { ConfigError } from './config/errors.js';
import type { Logger } from './logger.js';

/** sysexits.h EX_CONFIG: supervisors can tell "fix your settings" from a crash. */
export const EXIT_CONFIG = 78;

/**
 * Runs a service's main function: configuration errors are printed plainly (they are meant for
 * an operator, not a log pipeline) and exit 78; anything else exits 1.
 */
export function runMain(main: () => Promise<void>, stderr: NodeJS.WritableStream = process.stderr): void {
  main().catch((error: unknown) => {
    if (error instanceof ConfigError) {
      stderr.write(`${error.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    stderr.write(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}

/** Logs an uncaught error through the redacting logger before the process dies of it. */
export function logCrashes(logger: Logger): void {
  const crash = (error: unknown, kind: string): void => {
    logger.error({ err: error, kind }, 'fatal error');
    process.exit(1);
  };
  process.on('uncaughtException', (error) => crash(error, 'uncaughtException'));
  process.on('unhandledRejection', (reason) => crash(reason, 'unhandledRejection'));
}

/**
 * When started by a supervisor over IPC (devstack, tests), tell it we are up and stop when it
 * goes away, so a killed parent never leaves orphans.
 */
export function reportToParent(message: Record<string, unknown>, onParentGone: () => void): void {
  if (typeof process.send !== 'function') return;
  process.send(message);
  process.once('disconnect', onParentGone);
}
