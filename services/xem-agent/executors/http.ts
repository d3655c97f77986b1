import type { HttpExecutorSpec } from '../bundles/bundle-schema.js';

const PLACEHOLDER = /^\{\{([a-z_][a-z0-9_]{0,63})\}\}$/;
const MAX_REDIRECTS = 3;
const MAX_BODY = 256 * 1024;

export class HttpTemplateError extends Error {
  override readonly name = 'HttpTemplateError';
}

/** Checks an http tool's templates: placeholders fill whole path segments or query values, declared ones only. */
export function checkHttpTemplate(spec: HttpExecutorSpec, declared: readonly string[]): string | undefined {
  const parts = [
    ...spec.path.split('/').map((segment) => ['path', segment] as const),
    ...Object.values(spec.query ?? {}).map((value) => ['query', value] as const),
  ];
  for (const [where, part] of parts) {
    const match = PLACEHOLDER.exec(part);
    if (match && !declared.includes(match[1]!))
      return `${where} uses {{${match[1]}}}, which the parameters schema does not declare`;
    if (!match && part.includes('{{'))
      return `${where} part "${part.slice(0, 40)}" mixes text and a placeholder; parameters fill whole segments only`;
  }
  if (spec.path.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(spec.path))
    return 'path must be relative to base_url (no leading / and no scheme)';
  return undefined;
}

/**
 * The request for one call. Each path placeholder becomes one percent-encoded segment (so `/`,
 * `?` and `#` cannot reshape the URL, and `.`/`..` are refused outright), and the URL must
 * still lie under base_url. With `body: json`, the arguments not used in the URL are the body.
 */
export function buildHttpRequest(spec: HttpExecutorSpec, args: Record<string, unknown>): { url: URL; body?: string } {
  const used = new Set<string>();
  const fill = (part: string): string | undefined => {
    const match = PLACEHOLDER.exec(part);
    if (!match) return part;
    used.add(match[1]!);
    const value = args[match[1]!];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
      throw new HttpTemplateError(`argument ${match[1]} must be a string, number or boolean to fill the URL`);
    return String(value);
  };
  const segments = spec.path.split('/').map((segment) => {
    const value = fill(segment);
    if (value === undefined || value === '' || value === '.' || value === '..') {
      if (PLACEHOLDER.test(segment))
        throw new HttpTemplateError(`argument for path segment ${segment} is empty, "." or ".."`);
      return segment;
    }
    return PLACEHOLDER.test(segment) ? encodeURIComponent(value) : segment;
  });
  const url = new URL(segments.join('/'), spec.base_url);
  for (const [name, template] of Object.entries(spec.query ?? {})) {
    const value = fill(template);
    if (value !== undefined) url.searchParams.set(name, value);
  }
  if (!within(url, spec.base_url)) throw new HttpTemplateError('the request URL leaves base_url');
  if (spec.body !== 'json') return { url };
  return { url, body: JSON.stringify(Object.fromEntries(Object.entries(args).filter(([name]) => !used.has(name)))) };
}

export interface HttpOutcome {
  readonly status: number | null;
  readonly output: string;
  readonly truncated: boolean;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
  readonly error?: { code: string; message: string };
}

/** Makes the call; follows redirects only while they stay under base_url. */
export async function runHttp(
  spec: HttpExecutorSpec,
  args: Record<string, unknown>,
  headers: Record<string, string>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<HttpOutcome> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const both = AbortSignal.any([signal, deadline]);
  const request = buildHttpRequest(spec, args);
  let url = request.url;
  let method: string = spec.method;
  let body = request.body;
  try {
    for (let hop = 0; ; hop += 1) {
      const response = await fetch(url, {
        method,
        redirect: 'manual',
        signal: both,
        headers: { ...spec.headers, ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body }),
      });
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        const next = new URL(location, url);
        if (!within(next, spec.base_url))
          return failure('redirect_off_base', `refused a redirect to ${next.origin}: it leaves base_url`);
        if (hop >= MAX_REDIRECTS) return failure('too_many_redirects', `more than ${MAX_REDIRECTS} redirects`);
        if (response.status !== 307 && response.status !== 308) {
          method = 'GET';
          body = undefined;
        }
        url = next;
        continue;
      }
      const text = await response.text();
      return {
        status: response.status,
        output: `HTTP ${response.status}\n${text.slice(0, MAX_BODY)}`,
        truncated: text.length > MAX_BODY,
        timedOut: false,
        cancelled: false,
      };
    }
  } catch (error) {
    if (deadline.aborted || signal.aborted)
      return { status: null, output: '', truncated: false, timedOut: deadline.aborted, cancelled: signal.aborted };
    return failure('http_request_failed', (error as Error).message);
  }
}

/** Credentials for http tools: env-file entries HTTP_HEADER_<NAME> become header <NAME> (underscores as dashes). */
export function headersFromCredentials(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).flatMap(([name, value]) =>
      name.startsWith('HTTP_HEADER_') ? [[name.slice(12).replaceAll('_', '-'), value]] : [],
    ),
  );
}

function within(url: URL, base: string): boolean {
  return url.href.startsWith(new URL(base).href) && url.username === '' && url.password === '';
}

function failure(code: string, message: string): HttpOutcome {
  return { status: null, output: '', truncated: false, timedOut: false, cancelled: false, error: { code, message } };
}
