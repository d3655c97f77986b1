import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SILENT_TERMINAL } from '../../../services/xeroctl/output/terminal.js';
import { runCli } from '../../../services/xeroctl/program.js';
import type { CliDeps } from '../../../services/xeroctl/runtime.js';

const NOW = new Date('2026-12-03T12:00:00Z');

/** runCli in this process: a config file on disk, the router a recording fetch. */
function harness(expiresAt: string) {
  const dir = mkdtempSync(join(tmpdir(), 'xeroctl-unit-'));
  const path = join(dir, 'config.yaml');
  writeFileSync(
    path,
    `current_context: a\ncontexts:\n  a:\n    url: http://router.test\n    project: acme\n    credentials:\n      session: {key: xero_acme_old, id: key_1, expires_at: "${expiresAt}", refresh_until: "2026-12-10T00:00:00Z"}\n`,
  );
  const calls: string[] = [];
  const out: string[] = [];
  const fetcher = (async (url: string, init: RequestInit) => {
    calls.push(`${init.method} ${new URL(url).pathname} ${(init.headers as Record<string, string>)['authorization']}`);
    const body = url.endsWith('/refresh')
      ? { expires_at: '2026-12-04T00:00:00.000Z', refresh_until: '2026-12-10T00:00:00.000Z' }
      : { object: 'list', data: [], has_more: false, next_cursor: null };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch;
  const deps: CliDeps = {
    env: { XEROCTL_CONFIG: path },
    terminal: { ...SILENT_TERMINAL, out: (t) => void out.push(t) },
    fetch: fetcher,
    now: () => NOW,
    readFile: (p) => readFileSync(p, 'utf8'),
    version: 'test',
    interrupted: new AbortController().signal,
  };
  return { dir, path, calls, out, deps };
}

describe("xeroctl's sessions", () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('refreshes a session about to lapse before the command, and stores the new expiry', async () => {
    const h = harness('2026-12-03T12:05:00Z');
    dir = h.dir;
    expect(await runCli(['agents', 'list'], h.deps)).toBe(0);
    expect(h.calls).toEqual([
      'POST /acme/v1/auth/sessions/current/refresh Bearer xero_acme_old',
      'GET /acme/v1/management/agents Bearer xero_acme_old',
    ]);
    expect(readFileSync(h.path, 'utf8')).toContain('expires_at: 2026-12-04T00:00:00.000Z');
  });

  it('says to sign in again when the router will not refresh the session', async () => {
    const h = harness('2026-12-03T11:00:00Z');
    dir = h.dir;
    const errors: string[] = [];
    const refusing = (async () =>
      new Response(JSON.stringify({ error: { message: 'no', code: 'invalid_api_key' } }), {
        status: 401,
      })) as unknown as typeof fetch;
    const deps = {
      ...h.deps,
      fetch: refusing,
      terminal: { ...h.deps.terminal, err: (t: string) => void errors.push(t) },
    };
    expect(await runCli(['agents', 'list'], deps)).toBe(3);
    expect(errors.join('')).toContain('sign in again (xeroctl login)');
  });

  it('leaves a fresh session alone', async () => {
    const h = harness('2026-12-03T18:00:00Z');
    dir = h.dir;
    expect(await runCli(['agents', 'list', '-o', 'json'], h.deps)).toBe(0);
    expect(h.calls).toEqual(['GET /acme/v1/management/agents Bearer xero_acme_old']);
    expect(JSON.parse(h.out.join(''))).toMatchObject({ object: 'list' });
  });
});
