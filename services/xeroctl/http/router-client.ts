import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import type { Connection } from '../settings/connection.js';
import { readSse, type SseEvent } from './sse.js';

export interface CallOptions {
  readonly body?: unknown;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly signal?: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
  /** Events only: called once the stream is open (the router answered 200). */
  readonly onOpen?: () => void;
}

export interface RouterClient {
  readonly connection: Connection;
  /** A project route: `exec/invocations` is `/<project>/v1/exec/invocations`; `/…` is taken as it is. */
  call<T = Record<string, unknown>>(method: string, path: string, options?: CallOptions): Promise<T>;
  /** A route outside the project (`/healthz`, `/v1/auth/sessions`). */
  callRoot<T = Record<string, unknown>>(method: string, path: string, options?: CallOptions): Promise<T>;
  /** A project route answering Server-Sent Events, until it ends or the signal aborts. */
  events(path: string, options?: CallOptions & { method?: string }): AsyncGenerator<SseEvent>;
}

interface Envelope {
  error?: { message?: string; code?: string; param?: string | null };
}

/** HTTP status → exit code: the one mapping (docs/xeroctl.md, "Exit codes"). */
export function exitCodeOf(status: number): ExitCode {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  return EXIT.error;
}

export function apiError(status: number, body: unknown, requestId: string | null): CliError {
  const error = (body as Envelope | undefined)?.error;
  const code = error?.code ?? `http_${status}`;
  const field = error?.param ? `, field ${error.param}` : '';
  const quoted = status >= 500 && requestId ? ` [request ${requestId}]` : '';
  return new CliError(
    `${error?.message ?? `HTTP ${status}`} (${code}${field})${quoted}`,
    exitCodeOf(status),
    code,
    error?.param,
  );
}

function query(options: CallOptions | undefined): string {
  const entries = Object.entries(options?.query ?? {}).filter(([, value]) => value !== undefined && value !== '');
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString()}` : '';
}

/**
 * Ids typed by people go into paths: one that is not a plain segment (`..`, `?`, `/`, spaces) is
 * refused before anything is sent, so `keys revoke ../join-keys/jk_…` cannot reach another route.
 */
export function checkedPath(path: string): string {
  const segments = path.replace(/^\//, '').split('/');
  for (const segment of segments)
    if (segment === '' || segment === '.' || segment === '..' || /[?#%\s\\]/.test(segment))
      throw new CliError(`"${segment}" is not a valid id or name in ${path}`, EXIT.usage, 'usage');
  return path;
}

export function createRouterClient(
  connection: Connection,
  fetcher: typeof fetch = fetch,
  /** Ctrl-C: every request of the run stops with it (a wait or stream passes its own). */
  interrupted?: AbortSignal,
): RouterClient {
  // A path starting with `/` is the router's own (`/healthz`, an endpoint's `/<project>/<slug>/v1/…`).
  const projectPath = (raw: string) => inProject(checkedPath(raw));
  const inProject = (path: string) =>
    path.startsWith('/') ? path : `/${encodeURIComponent(connection.project)}/v1/${path}`;
  const send = async (method: string, path: string, options: CallOptions | undefined, accept: string) => {
    const headers: Record<string, string> = { accept, 'user-agent': 'xeroctl', ...(options?.headers ?? {}) };
    if (connection.key) headers['authorization'] = `Bearer ${connection.key}`;
    if (options?.body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetcher(`${connection.url}${path}${query(options)}`, {
        method,
        headers,
        ...(options?.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        ...(options?.signal || interrupted ? { signal: (options?.signal ?? interrupted)! } : {}),
      });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      const cause = ((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message) || 'failed';
      throw new CliError(`cannot reach the router at ${connection.url} (${cause})`, EXIT.error, 'unreachable');
    }
  };
  const json = async <T>(method: string, path: string, options?: CallOptions): Promise<T> => {
    const response = await send(method, path, options, 'application/json');
    const text = await response.text();
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      if (response.ok)
        throw new CliError(`the router answered ${path} with something that is not JSON`, EXIT.error, 'bad_answer');
    }
    if (!response.ok) throw apiError(response.status, body, response.headers.get('x-request-id'));
    return body as T;
  };
  return {
    connection,
    call: (method, path, options) => json(method, projectPath(path), options),
    callRoot: (method, path, options) => json(method, path, options),
    async *events(path, options) {
      const response = await send(options?.method ?? 'GET', projectPath(path), options, 'text/event-stream');
      if (!response.ok || !response.body) {
        const text = await response.text().catch(() => '');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        throw apiError(response.status, body, response.headers.get('x-request-id'));
      }
      options?.onOpen?.();
      yield* readSse(response.body);
    },
  };
}
