import { request, type IncomingMessage } from 'node:http';

/** Where the engine listens: a Unix socket (vLLM `--uds`) or an HTTP base URL. */
export type EngineAddress = { readonly socketPath: string } | { readonly baseUrl: string };

export function describeAddress(address: EngineAddress): string {
  return 'socketPath' in address ? `unix:${address.socketPath}` : address.baseUrl;
}

/** One HTTP exchange with the engine; resolves with the response once its headers arrive. */
export function engineRequest(
  address: EngineAddress,
  path: string,
  init: { method?: string; body?: string; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<IncomingMessage> {
  const target = 'socketPath' in address ? { socketPath: address.socketPath, path } : urlTarget(address.baseUrl, path);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        ...target,
        method: init.method ?? 'GET',
        signal: init.signal,
        timeout: init.timeoutMs ?? 30_000,
        headers:
          init.body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(init.body) },
      },
      resolve,
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`engine did not answer ${path} in time`)));
    outgoing.on('error', reject);
    outgoing.end(init.body);
  });
}

function urlTarget(baseUrl: string, path: string) {
  const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  return { hostname: url.hostname, port: url.port || 80, path: `${url.pathname}${url.search}` };
}

export async function readAll(response: IncomingMessage, limit = 4 * 1024 * 1024): Promise<string> {
  let text = '';
  for await (const chunk of response) {
    text += (chunk as Buffer).toString('utf8');
    if (text.length > limit) throw new Error('engine response too large');
  }
  return text;
}
