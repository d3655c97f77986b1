import { createHmac, hkdfSync } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../../runtime/logger.js';
import { open, seal } from '../../runtime/sealed.js';
import {
  isLive,
  newSession,
  SessionStoreUnavailable,
  type BrowserSession,
  type NewSession,
  type SessionStore,
} from './session.js';

export interface RedisSessionOptions {
  readonly url: string;
  /** The 32-byte session secret: the keys that index and seal sessions are derived from it. */
  readonly secret: Buffer;
  readonly idleMs: number;
  readonly now: () => number;
  readonly logger: Logger;
  /** Keeps deployments sharing one Redis apart. @default 'xerotier:ui:session:' */
  readonly prefix?: string;
}

const subkey = (secret: Buffer, purpose: string) =>
  Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `xerotier-ui-sessions/${purpose}`, 32));

/**
 * Browser sessions in Redis, shared by every UI replica and kept across restarts. Redis sees
 * neither a cookie nor a router key: a session is stored under an HMAC of its cookie value and
 * sealed (AES-256-GCM) under a key derived from the session secret, so a Redis dump lets no one
 * sign in. Idleness is Redis's own expiry, renewed at most every `touchMs` while in use; an idle
 * session's router key goes with it (the router session then lapses at its own expiry).
 */
export function createRedisSessionStore(options: RedisSessionOptions): SessionStore {
  const redis = new Redis(options.url, { lazyConnect: false, maxRetriesPerRequest: 1, commandTimeout: 2_000 });
  redis.on('error', (error: Error) =>
    options.logger.warning({ err: { message: error.message } }, 'session Redis connection problem'),
  );
  const indexKey = subkey(options.secret, 'index');
  const sealKey = subkey(options.secret, 'seal');
  const prefix = options.prefix ?? 'xerotier:ui:session:';
  const touchMs = Math.min(60_000, Math.floor(options.idleMs / 4));
  const keyOf = (cookie: string) => prefix + createHmac('sha256', indexKey).update(cookie).digest('base64url');
  const guarded = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw new SessionStoreUnavailable(error);
    }
  };
  const write = (session: BrowserSession) =>
    guarded(() =>
      redis.set(keyOf(session.id), seal(sealKey, JSON.stringify(session)).toString('base64'), 'PX', options.idleMs),
    );
  return {
    async open(session: NewSession) {
      const opened = newSession(session, options.now());
      await write(opened);
      return opened;
    },
    async find(cookie) {
      if (!cookie || cookie.length > 64) return undefined;
      const stored = await guarded(() => redis.get(keyOf(cookie)));
      const session = stored === null ? undefined : unsealed(sealKey, stored, cookie);
      const now = options.now();
      if (!session || !isLive(session, now, options.idleMs)) return undefined;
      if (now - session.lastUsedMs >= touchMs) {
        session.lastUsedMs = now;
        await write(session);
      }
      return session;
    },
    save: async (session) => void (await write(session)),
    close: async (cookie) => void (await guarded(() => redis.del(keyOf(cookie)))),
    sweep: async () => [],
    async quit() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/** The stored session, or undefined when it was sealed under another secret or is not the cookie's. */
function unsealed(key: Buffer, stored: string, cookie: string): BrowserSession | undefined {
  try {
    const session = JSON.parse(open(key, Buffer.from(stored, 'base64'))) as BrowserSession;
    return session.id === cookie ? session : undefined;
  } catch {
    return undefined;
  }
}
