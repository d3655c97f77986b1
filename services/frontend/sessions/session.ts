import { randomBytes, timingSafeEqual } from 'node:crypto';

/** Who a browser session is: the router session it stands for, kept here and never sent to the browser. */
export interface BrowserSession {
  readonly id: string;
  /** The router session key (`Authorization: Bearer`); it never leaves the UI's side. */
  readonly key: string;
  readonly sessionId: string;
  readonly projectId: string;
  readonly projectSlug: string;
  readonly person: { readonly id: string; readonly displayName: string; readonly email: string | null };
  /** The token every mutation carries back (header or form field): a page of another site cannot read it. */
  readonly csrf: string;
  lastUsedMs: number;
  /** When the router session lapses unless refreshed (it is refreshed on use past half its life). */
  expiresAtMs: number;
}

export type NewSession = Omit<BrowserSession, 'id' | 'csrf' | 'lastUsedMs'>;

/**
 * Where browser sessions live, by their cookie value: this process's memory (one replica) or
 * Redis (any number of replicas, and sessions outlive a rollout). Every method may fail with
 * SessionStoreUnavailable, which the UI answers with 503.
 */
export interface SessionStore {
  open(session: NewSession): Promise<BrowserSession>;
  /** The live session a cookie names, touched; undefined when unknown, idle too long or lapsed. */
  find(cookie: string | undefined): Promise<BrowserSession | undefined>;
  /** Keeps a session's changed expiry (after a router refresh). */
  save(session: BrowserSession): Promise<void>;
  close(cookie: string): Promise<void>;
  /** Forgets idle sessions and hands them back, so their router sessions can be revoked. */
  sweep(): Promise<BrowserSession[]>;
  quit(): Promise<void>;
}

export class SessionStoreUnavailable extends Error {
  constructor(cause: unknown) {
    super('the session store did not answer', { cause });
    this.name = 'SessionStoreUnavailable';
  }
}

/** A new session's secrets: its cookie value and CSRF token, 256 random bits each. */
export function newSession(session: NewSession, now: number): BrowserSession {
  return {
    ...session,
    id: randomBytes(32).toString('base64url'),
    csrf: randomBytes(32).toString('base64url'),
    lastUsedMs: now,
  };
}

/** Whether a session may still be used: not idle past `idleMs`, its router session not lapsed. */
export function isLive(session: BrowserSession, now: number, idleMs: number): boolean {
  return now - session.lastUsedMs <= idleMs && now < session.expiresAtMs;
}

/** Whether a mutation carries its session's CSRF token (compared in constant time). */
export function csrfMatches(session: BrowserSession, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const expected = Buffer.from(session.csrf);
  const given = Buffer.from(presented);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
