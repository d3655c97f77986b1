/**
 * The router as this process reaches it: one function per call shape, every call under a person's
 * session key. The frontend decides nothing: what the router answers is what the browser sees.
 */
export interface RouterClient {
  /** A JSON call; the router's status and body (its error envelope when it refuses). */
  json(
    method: string,
    path: string,
    options?: { key?: string; body?: unknown },
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  /** A raw call whose body is relayed as it arrives (streams, downloads). */
  raw(
    method: string,
    path: string,
    options: { key?: string; body?: string; headers?: Record<string, string>; signal?: AbortSignal },
  ): Promise<Response>;
}

export function createRouterClient(routerUrl: string, fetcher: typeof fetch = fetch): RouterClient {
  const base = routerUrl.replace(/\/+$/, '');
  const raw: RouterClient['raw'] = (method, path, options) =>
    fetcher(`${base}${path}`, {
      method,
      headers: {
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      redirect: 'manual',
    });
  return {
    raw,
    async json(method, path, options = {}) {
      const response = await raw(method, path, {
        ...(options.key ? { key: options.key } : {}),
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
      const text = await response.text();
      let body: Record<string, unknown> = {};
      try {
        body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        body = { error: { code: 'router_unreadable', message: 'The router answered with something not JSON' } };
      }
      return { status: response.status, body };
    },
  };
}

/** The cookies of a request, by name (the first of each). */
export function cookiesOf(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at < 1) continue;
    const name = part.slice(0, at).trim();
    if (!cookies.has(name)) cookies.set(name, decodeURIComponent(part.slice(at + 1).trim()));
  }
  return cookies;
}
