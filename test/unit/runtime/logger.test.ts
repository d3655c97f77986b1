import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../services/runtime/logger.js';

function capture(level: 'trace' | 'info' = 'trace', secrets: string[] = []) {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(chunk.toString());
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ service: 'test', level, secrets, destination });
  return { logger, lines, text: () => raw.join('') };
}

describe('logger', () => {
  it('speaks the seed levels by name and filters below the configured one', () => {
    const { logger, lines } = capture('info');
    logger.trace('t');
    logger.debug('d');
    logger.info('i');
    logger.notice('n');
    logger.warning('w');
    logger.error('e');
    expect(lines.map((line) => line['level'])).toEqual(['info', 'notice', 'warning', 'error']);
    expect(lines[0]).toMatchObject({ service: 'test', msg: 'i' });
  });

  it('redacts secret-named members at any depth', () => {
    const { logger, text } = capture();
    logger.info(
      {
        join_key: 'jk_canary_1',
        config: { router_auth_token: 'rt_canary_2', curve_secret_key: 'canary3canary3' },
        req: { headers: { authorization: 'Bearer canary4canary4', 'x-api-key': 'canary5canary5' } },
        api_key: 'canary6canary6',
        password: 'canary7canary7',
        signing_key_path: '/keep/this/path',
      },
      'enrolling',
    );
    const out = text();
    for (const canary of ['canary_1', 'canary_2', 'canary3', 'canary4', 'canary5', 'canary6', 'canary7'])
      expect(out).not.toContain(canary);
    expect(out).toContain('/keep/this/path');
  });

  it('scrubs known secret values and credential formats from messages, fields and errors', () => {
    const { logger, text } = capture('trace', ['literal-secret-value']);
    logger.info('joining with literal-secret-value and xero_acme_Zm9vYmFyYmF6cXV4cXV1eA');
    logger.warning({ detail: 'join key xjk_AAAAAAAAAAAAAAAAAAAAAAAA refused' }, 'refused');
    logger.error(new Error('connect failed for literal-secret-value'));
    logger.error({ err: new Error('bad key xero_acme_Zm9vYmFyYmF6cXV4cXV1eA') }, 'x');
    const out = text();
    expect(out).not.toContain('literal-secret-value');
    expect(out).not.toContain('Zm9vYmFyYmF6cXV4cXV1eA');
    expect(out).not.toContain('xjk_AAAA');
    expect(out).toContain('[REDACTED]');
    expect(out).toContain('connect failed for [REDACTED]');
  });

  it('keeps child bindings and redacts in children too', () => {
    const { logger, lines } = capture();
    logger.child({ agent_id: 'agt_1' }).info({ token: 'tok_secret_value' }, 'renewed');
    expect(lines[0]).toMatchObject({ agent_id: 'agt_1', token: '[REDACTED]', msg: 'renewed' });
  });
});
