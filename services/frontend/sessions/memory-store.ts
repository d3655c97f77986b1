import { isLive, newSession, type BrowserSession, type NewSession, type SessionStore } from './session.js';

/**
 * Browser sessions in this process: for one replica (the dev stack, a single pod). A restart
 * signs everyone out; behind several replicas use the Redis store (docs/web-ui.md).
 */
export function createMemorySessionStore(idleMs: number, now: () => number): SessionStore {
  const sessions = new Map<string, BrowserSession>();
  return {
    async open(session: NewSession) {
      const opened = newSession(session, now());
      sessions.set(opened.id, opened);
      return opened;
    },
    async find(cookie) {
      const session = cookie === undefined ? undefined : sessions.get(cookie);
      if (!session) return undefined;
      if (!isLive(session, now(), idleMs)) {
        sessions.delete(session.id);
        return undefined;
      }
      session.lastUsedMs = now();
      return session;
    },
    async save() {
      // The session is the stored object itself: its changes are already kept.
    },
    async close(cookie) {
      sessions.delete(cookie);
    },
    async sweep() {
      const idle = [...sessions.values()].filter((session) => !isLive(session, now(), idleMs));
      for (const session of idle) sessions.delete(session.id);
      return idle;
    },
    async quit() {
      sessions.clear();
    },
  };
}
