/**
 * xeroctl's exit codes: the one table scripts branch on (docs/xeroctl.md prints it). A usage
 * error is the caller's, an auth error needs a sign-in or a role, and with `--wait` a call or
 * approval that ended any other way than done says so with its own code.
 */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  timedOut: 5,
  endedUnsuccessfully: 6,
  /** Ctrl-C (128 + SIGINT), as shells expect. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_MEANINGS: readonly (readonly [ExitCode, string])[] = [
  [EXIT.ok, 'success'],
  [EXIT.error, 'an error (the router refused the request, could not be reached, or answered badly)'],
  [EXIT.usage, 'usage: an unknown command or option, a missing argument, a malformed value'],
  [EXIT.auth, 'not authenticated (no, expired or revoked credentials) or not allowed (scope, role, project)'],
  [EXIT.notFound, 'the named thing does not exist (or a context of that name)'],
  [EXIT.timedOut, 'waited (`--wait`, `--timeout`) and the wait ran out first'],
  [
    EXIT.endedUnsuccessfully,
    'waited, and the call or approval ended rejected, cancelled, expired, failed, timed out or ambiguous',
  ],
  [EXIT.interrupted, 'interrupted (Ctrl-C): a wait or stream stopped; the call itself goes on'],
];

/** An error xeroctl reports and exits with: the message is for people, the code for scripts. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.error,
    /** The router's error code when the router said it (e.g. `approval_not_pending`). */
    readonly code?: string,
    /** The field the router named (`error.param`). */
    readonly param?: string | null,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage, 'usage');
