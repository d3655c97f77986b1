import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// A caller-supplied X-Request-ID is kept when it is short and harmless, so a request can be
// followed across the frontend, the router and logs; otherwise the router mints one.
const ACCEPTABLE = /^[A-Za-z0-9._:-]{8,128}$/;

export function requestIdFor(request: IncomingMessage): string {
  const supplied = request.headers['x-request-id'];
  if (typeof supplied === 'string' && ACCEPTABLE.test(supplied)) return supplied;
  return `req_${randomBytes(12).toString('hex')}`;
}
