import type { EngineAddress } from './http.js';

/** XEROTIER_AGENT_ENGINE_URL as an address: `unix:///path/to/socket` or an http(s) base URL. */
export function engineAddress(url: string): EngineAddress {
  return url.startsWith('unix:') ? { socketPath: decodeURIComponent(new URL(url).pathname) } : { baseUrl: url };
}
