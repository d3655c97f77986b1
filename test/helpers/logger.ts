import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../services/runtime/logger.js';

/** A logger that drops everything (tests that do not inspect logs). */
export function silentLogger(): Logger {
  return createLogger({
    service: 'test',
    level: 'error',
    destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
  });
}

/** A logger whose JSON lines are kept for assertions. */
export function capturingLogger(level: 'trace' | 'debug' | 'info' = 'trace'): {
  logger: Logger;
  lines: () => string[];
} {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger({ service: 'test', level, destination }), lines: () => lines };
}
