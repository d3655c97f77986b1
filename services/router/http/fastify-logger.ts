import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';
import type { Logger } from '../../runtime/logger.js';

/**
 * Fastify expects pino's default level names (warn, fatal); our loggers use only the seed's six
 * (warning, error, ...). This adapter maps the two and keeps children adapted, so fastify and
 * our code log through the same redacting logger.
 */
export function fastifyLogger(logger: Logger): FastifyBaseLogger {
  const adapted = {
    get level() {
      return logger.level;
    },
    set level(level: string) {
      logger.level = level === 'warn' ? 'warning' : level === 'fatal' ? 'error' : level;
    },
    trace: logger.trace.bind(logger),
    debug: logger.debug.bind(logger),
    info: logger.info.bind(logger),
    warn: logger.warning.bind(logger),
    error: logger.error.bind(logger),
    fatal: logger.error.bind(logger),
    silent: () => undefined,
    child: (bindings: Bindings, options?: ChildLoggerOptions) =>
      fastifyLogger(logger.child(bindings, options) as Logger),
  };
  return adapted as unknown as FastifyBaseLogger;
}
