import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedactor } from '../../../services/runtime/redact.js';
import { runCommand } from '../../../services/xem-agent/executors/command.js';
import { CredentialsError, resolveCredentials } from '../../../services/xem-agent/executors/credentials.js';

describe('credentials', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'xerotier-creds-'));
    mkdirSync(join(dir, 'ws_prod'));
    writeFileSync(
      join(dir, 'ws_prod', 'postgres.env'),
      "PGHOST=db.internal\nexport PGPASSWORD='canary-pg-secret'\n# comment\n",
    );
    writeFileSync(
      join(dir, 'ws_prod', 'kubeconfig'),
      'apiVersion: v1\nkind: Config\nusers:\n  - name: admin\n    user:\n      token: canary-kube-token-123\n',
    );
    writeFileSync(join(dir, 'outside-secret'), 'do-not-reach-me');
    symlinkSync(join(dir, 'outside-secret'), join(dir, 'ws_prod', 'sneaky'));
    mkdirSync(join(dir, 'ws_prod', 'aws'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('turns an env file into environment variables whose values are secrets, except plain connection settings', () => {
    const resolved = resolveCredentials(dir, 'ws_prod', 'postgres.env');
    expect(resolved.env).toEqual({ PGHOST: 'db.internal', PGPASSWORD: 'canary-pg-secret' });
    expect(resolved.secrets).toEqual(['canary-pg-secret']);
  });

  it('counts any value as secret unless its name is a known setting, and a secret-looking name always', () => {
    writeFileSync(
      join(dir, 'ws_prod', 'mixed.env'),
      'DB_USER=reporting\nDB_PORT=543299\nAPI_URL=https://internal.example\nDB_HOST_KEY=abcdef123\nSESSION=opaque-value\n',
    );
    expect(resolveCredentials(dir, 'ws_prod', 'mixed.env').secrets).toEqual([
      'https://internal.example',
      'abcdef123',
      'opaque-value',
    ]);
  });

  it('points KUBECONFIG at a kubeconfig and treats its tokens as secrets', () => {
    const resolved = resolveCredentials(dir, 'ws_prod', 'kubeconfig');
    expect(resolved.env['KUBECONFIG']).toMatch(/ws_prod\/kubeconfig$/);
    expect(resolved.secrets).toEqual(['canary-kube-token-123']);
  });

  it('hands a directory over by path', () => {
    expect(resolveCredentials(dir, 'ws_prod', 'aws').env['XEROTIER_CREDENTIALS_DIR']).toMatch(/ws_prod\/aws$/);
  });

  it.each([
    ['a symlink out of the workspace folder', 'ws_prod', 'sneaky', /outside/],
    ['a traversal in the reference', 'ws_prod', '../outside-secret', /invalid name/],
    ['a traversal in the workspace', '..', 'outside-secret', /invalid name/],
    ['a hidden file', 'ws_prod', '.env', /invalid name/],
    ['a missing reference', 'ws_prod', 'nothing', /no credentials/],
  ])('refuses %s', (_, workspace, ref, message) => {
    expect(() => resolveCredentials(dir, workspace, ref)).toThrow(CredentialsError);
    expect(() => resolveCredentials(dir, workspace, ref)).toThrow(message);
  });

  it('reads the file afresh on every resolution', () => {
    writeFileSync(join(dir, 'ws_prod', 'rotating.env'), 'TOKEN=first-value\n');
    expect(resolveCredentials(dir, 'ws_prod', 'rotating.env').env['TOKEN']).toBe('first-value');
    writeFileSync(join(dir, 'ws_prod', 'rotating.env'), 'TOKEN=second-value\n');
    expect(resolveCredentials(dir, 'ws_prod', 'rotating.env').env['TOKEN']).toBe('second-value');
  });

  it('lets a tool use a secret while its echo is scrubbed from the output', async () => {
    const resolved = resolveCredentials(dir, 'ws_prod', 'postgres.env');
    const redactor = createRedactor(resolved.secrets);
    const streamed: string[] = [];
    const outcome = await runCommand({
      argv: [process.execPath, '-e', 'console.log("password is " + process.env.PGPASSWORD)'],
      env: resolved.env,
      timeoutMs: 5_000,
      onOutput: (_, text) => streamed.push(redactor.text(text)),
    });
    expect(outcome.output).toContain('canary-pg-secret');
    expect(redactor.text(outcome.output)).toBe('password is [REDACTED]\n');
    expect(streamed.join('')).not.toContain('canary-pg-secret');
  });
});
