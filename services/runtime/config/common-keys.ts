/** Value sets several services share. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'notice', 'warning', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** kebab-case or alphanumeric, at most 48 characters (what the router accepts at enrollment). */
export const REGISTRATION_NAME_PATTERN = /^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$/;
export const REGISTRATION_NAME_HINT =
  'kebab-case or alphanumeric (letters, digits, single dashes), at most 48 characters';
