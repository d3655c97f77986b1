import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CliError, EXIT } from '../exit-codes.js';
import type { Run } from '../runtime.js';

const WAIT_MS = 5 * 60_000;

/**
 * Single sign-on for a terminal: a listener on 127.0.0.1 (any port; the router allows loopback
 * redirects) receives the router's one-time code after the person signed in at the provider.
 * The session key itself never travels in a URL.
 */
export async function oidcCode(run: Run, options: { openBrowser: boolean }): Promise<string> {
  const { url } = run.connection();
  let settle!: (code: string | Error) => void;
  const answered = new Promise<string | Error>((resolve) => (settle = resolve));
  const server = createServer((request, response) => {
    const query = new URL(request.url ?? '/', 'http://127.0.0.1').searchParams;
    const code = query.get('code');
    response.writeHead(code ? 200 : 400, { 'content-type': 'text/plain; charset=utf-8' });
    response.end(
      code ? 'Signed in. You may close this tab and go back to the terminal.\n' : 'No code: sign-in failed.\n',
    );
    settle(
      code ??
        new CliError(`sign-in failed: ${query.get('error') ?? 'no code came back'}`, EXIT.auth, 'oidc_sign_in_failed'),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const start = `${url}/v1/auth/oidc/start?client=cli&redirect_to=${encodeURIComponent(`http://127.0.0.1:${port}/callback`)}`;
  run.note(`Open this address to sign in:\n  ${start}`);
  if (options.openBrowser && run.deps.terminal.interactive)
    spawn('xdg-open', [start], { stdio: 'ignore', detached: true })
      .on('error', () => undefined)
      .unref();
  const timer = setTimeout(
    () => settle(new CliError('no sign-in within 5 minutes', EXIT.timedOut, 'timed_out')),
    WAIT_MS,
  );
  const aborted = () => settle(new CliError('interrupted', EXIT.interrupted));
  run.deps.interrupted.addEventListener('abort', aborted);
  try {
    const result = await answered;
    if (result instanceof Error) throw result;
    return result;
  } finally {
    clearTimeout(timer);
    run.deps.interrupted.removeEventListener('abort', aborted);
    server.close();
  }
}
