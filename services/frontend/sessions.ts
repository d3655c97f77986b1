import { randomBytes, timingSafeEqual } from 'node:crypto';

/** Who a browser session is: the router session it stands for, kept here and never sent to the browser. */
export interface BrowserSession {
  readonly id: string;
  /** The router session key (`Authorization: Bearer`); it never leaves this process. */
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
 * Browser sessions by their cookie value, in this process (one frontend replica per browser, or a
 * sticky load balancer: docs/web-ui.md). An idle session is forgotten and reported so its router
 * session can be revoked.
 */
export class SessionStore {
  private readonly sessions = new Map<string, BrowserSession>();

  constructor(
    private readonly idleMs: number,
    private readonly now: () => number,
  ) {}

  open(session: NewSession): BrowserSession {
    const opened: BrowserSession = {
      ...session,
      id: randomBytes(32).toString('base64url'),
      csrf: randomBytes(32).toString('base64url'),
      lastUsedMs: this.now(),
    };
    this.sessions.set(opened.id, opened);
    return opened;
  }

  /** The live session a cookie names, touched; undefined when unknown, idle too long or lapsed. */
  find(cookie: string | undefined): BrowserSession | undefined {
    if (!cookie) return undefined;
    const session = this.sessions.get(cookie);
    if (!session) return undefined;
    const now = this.now();
    if (now - session.lastUsedMs > this.idleMs || now >= session.expiresAtMs) {
      this.sessions.delete(cookie);
      return undefined;
    }
    session.lastUsedMs = now;
    return session;
  }

  close(cookie: string): BrowserSession | undefined {
    const session = this.sessions.get(cookie);
    this.sessions.delete(cookie);
    return session;
  }

  /** Forgets idle sessions and hands them back (their router sessions are revoked by the caller). */
  sweep(): BrowserSession[] {
    const now = this.now();
    const idle = [...this.sessions.values()].filter((session) => now - session.lastUsedMs > this.idleMs);
    for (const session of idle) this.sessions.delete(session.id);
    return idle;
  }

  all(): BrowserSession[] {
    return [...this.sessions.values()];
  }
}

/** Whether a mutation carries its session's CSRF token (compared in constant time). */
export function csrfMatches(session: BrowserSession, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const expected = Buffer.from(session.csrf);
  const given = Buffer.from(presented);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
