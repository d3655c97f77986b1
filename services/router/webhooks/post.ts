import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { decideTarget, type TargetAllowlist } from './target-policy.js';

export interface PostOutcome {
  readonly delivered: boolean;
  readonly statusCode: number | null;
  readonly error: string | null;
  readonly durationMs: number;
  /** The target was refused before any connection (an internal address): retrying will not help. */
  readonly refused: boolean;
}

export interface PostOptions {
  readonly allow: TargetAllowlist;
  readonly timeoutMs: number;
  /** Name resolution (tests point names at chosen addresses). @default dns.lookup, all addresses */
  readonly resolve?: (hostname: string) => Promise<{ address: string; family: number }[]>;
  readonly now?: () => number;
}

/**
 * POSTs one webhook body. The host is resolved here, every address checked against the target
 * policy, and the socket connects to the checked address only (a fixed `lookup`), with SNI and
 * the Host header still naming the host. Redirects are not followed; the receiver's body is read
 * and thrown away, never stored.
 */
export async function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: PostOptions,
): Promise<PostOutcome> {
  const now = options.now ?? Date.now;
  const started = now();
  const outcome = (fields: Omit<PostOutcome, 'durationMs'>): PostOutcome => ({
    ...fields,
    durationMs: now() - started,
  });
  const target = new URL(url);
  const hostname = target.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  try {
    addresses = isIP(hostname)
      ? [{ address: hostname, family: isIP(hostname) }]
      : await (options.resolve ?? resolveAll)(hostname);
  } catch (error) {
    return outcome({
      delivered: false,
      statusCode: null,
      error: `could not resolve ${hostname}: ${(error as Error).message}`.slice(0, 300),
      refused: false,
    });
  }
  const decision = decideTarget(hostname, addresses, options.allow);
  if (!decision.ok)
    return outcome({
      delivered: false,
      statusCode: null,
      error: `target refused: ${decision.reason}`.slice(0, 300),
      refused: true,
    });
  try {
    const statusCode = await send(target, body, headers, pinned(decision.address, decision.family), options.timeoutMs);
    return outcome({ delivered: statusCode >= 200 && statusCode < 300, statusCode, error: null, refused: false });
  } catch (error) {
    return outcome({
      delivered: false,
      statusCode: null,
      error: (error as Error).message.slice(0, 300),
      refused: false,
    });
  }
}

async function resolveAll(hostname: string): Promise<{ address: string; family: number }[]> {
  return dnsLookup(hostname, { all: true, verbatim: true });
}

/** A lookup that answers with the one address the policy approved, whatever is asked. */
function pinned(address: string, family: 4 | 6): LookupFunction {
  return (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all)
      (callback as unknown as (error: null, addresses: { address: string; family: number }[]) => void)(null, [
        { address, family },
      ]);
    else callback(null, address, family);
  };
}

function send(
  target: URL,
  body: string,
  headers: Record<string, string>,
  lookup: LookupFunction,
  timeoutMs: number,
): Promise<number> {
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup,
        timeout: timeoutMs,
        agent: false,
      },
      (response: IncomingMessage) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
        response.once('error', reject);
      },
    );
    outgoing.once('timeout', () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    outgoing.once('error', reject);
    outgoing.end(body);
  });
}
