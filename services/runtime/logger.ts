import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config/common-keys.js';
import { createRedactor, type Redactor } from './redact.js';

// The seed's six levels. `notice` sits between info and warning; there is no fatal.
const LEVEL_VALUES: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, notice: 35, warning: 40, error: 50 };

export type Logger = PinoLogger<LogLevel, true>;

export interface LoggerOptions {
  readonly service: string;
  readonly level: LogLevel;
  /** Literal secrets (join key, tokens from config) scrubbed from every line. */
  readonly secrets?: Iterable<string | undefined>;
  /** Defaults to stdout; tests pass a stream to capture lines. */
  readonly destination?: DestinationStream;
  readonly redactor?: Redactor;
}

/**
 * JSON-lines logger with the seed's levels and secrets scrubbed by default: members named like
 * secrets are replaced, known secret values and credential-shaped strings are cut from messages
 * and fields, error messages and stacks included.
 */
export function createLogger(options: LoggerOptions): Logger {
  const redactor = options.redactor ?? createRedactor(options.secrets);
  if (options.redactor && options.secrets) redactor.addSecrets(options.secrets);
  return pino<LogLevel, true>(
    {
      level: options.level,
      customLevels: LEVEL_VALUES,
      useOnlyCustomLevels: true,
      base: { service: options.service },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactor.value(object) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          method.apply(this, scrubArgs(args, redactor) as Parameters<typeof method>);
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

// pino takes an Error's message as the line's msg without passing it through formatters, so an
// Error argument is rewritten to `{ err }` plus an explicitly scrubbed message.
function scrubArgs(args: readonly unknown[], redactor: Redactor): unknown[] {
  const [first, ...rest] = args;
  if (first instanceof Error) {
    const message = typeof rest[0] === 'string' ? rest[0] : first.message;
    return [{ err: first }, redactor.text(message), ...rest.slice(typeof rest[0] === 'string' ? 1 : 0)];
  }
  return args.map((arg) => (typeof arg === 'string' ? redactor.text(arg) : arg));
}

/** A child logger with bindings, typed like its parent. */
export function childLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  return logger.child(bindings) as Logger;
}
