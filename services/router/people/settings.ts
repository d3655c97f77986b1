/** How people sign in and how long their sessions last (compiled from the router's config). */
export interface IdentitySettings {
  /** A session key lives this long unless refreshed. @default 12 h */
  readonly sessionTtlSeconds: number;
  /** Refreshes never carry a session past this long after sign-in. @default 7 d */
  readonly sessionMaxSeconds: number;
  /** Failed password sign-ins on one account, within lockoutSeconds, that lock it. @default 5 */
  readonly lockoutFailures: number;
  /** How long a locked account stays locked (and the window failures are counted in). @default 900 */
  readonly lockoutSeconds: number;
  /** Sign-in attempts per source address per minute, whatever the account. @default 20 */
  readonly signInPerMinute: number;
}

export const DEFAULT_IDENTITY: IdentitySettings = Object.freeze({
  sessionTtlSeconds: 12 * 3600,
  sessionMaxSeconds: 7 * 24 * 3600,
  lockoutFailures: 5,
  lockoutSeconds: 900,
  signInPerMinute: 20,
});
