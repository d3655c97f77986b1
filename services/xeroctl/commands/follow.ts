import { CliError, EXIT } from '../exit-codes.js';
import type { RouterClient } from '../http/router-client.js';
import type { SseEvent } from '../http/sse.js';
import type { Run } from '../runtime.js';
import { text } from '../output/render.js';

type Row = Record<string, unknown>;

/** States a wait ends at: the router's final states, and `ambiguous`, which waits on a person. */
export const WAIT_ENDS = [
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'rejected',
  'expired',
  'approval_voided',
  'ambiguous',
] as const;
const ENDS: ReadonlySet<string> = new Set(WAIT_ENDS);

const SPINNER = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';
const RECONNECT_MS = [250, 500, 1_000, 2_000, 5_000];

/**
 * A stream that failed for a reason that may pass (the router restarted, a proxy cut it, a 5xx on
 * reconnecting) is opened again; a refusal of the request itself (4xx) is not.
 */
export function worthReconnecting(error: unknown): boolean {
  if (!(error instanceof CliError)) return true;
  return error.code === 'unreachable' || /^http_5|^(shutting_down|not_ready|internal_error)$/.test(error.code ?? '');
}

/** Waits, unless the signal ends the wait first. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The project's event stream for a watch: reopened when it drops (the router restarting, say),
 * until Ctrl-C. `onOpen` is said once, when the first stream opens.
 */
export async function watchProject(
  run: Run,
  client: RouterClient,
  opened: string,
  handle: (event: SseEvent) => Promise<void> | void,
): Promise<void> {
  let said = false;
  const onOpen = () => {
    if (!said) run.note(opened);
    said = true;
  };
  for (let attempt = 0; !run.deps.interrupted.aborted; attempt++) {
    try {
      for await (const event of client.events('exec/events', { signal: run.deps.interrupted, onOpen })) {
        attempt = 0;
        await handle(event);
      }
    } catch (error) {
      if (run.deps.interrupted.aborted) break;
      if (!worthReconnecting(error)) throw error;
    }
    await pause(RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)]!, run.deps.interrupted);
  }
  throw new CliError('', EXIT.interrupted);
}

/** Where a person decides an approval: the web UI's /ops when the context names it, and the CLI. */
export function approvalHint(run: Run, approval: string, risk: string): string {
  const ui = run.connection().uiUrl;
  const where = ui ? `\n  in the web UI: ${ui}/ops#${approval}` : '';
  return `Waiting for approval ${approval} (${risk}): someone with the approver role decides it\n  xeroctl approvals approve ${approval}   (or reject ${approval} --reason …)${where}`;
}

/** A line a person watches on a terminal (redrawn in place), or nothing when no one is watching. */
function statusLine(run: Run) {
  const interactive = run.deps.terminal.interactive;
  let frame = 0;
  let shown = false;
  return {
    draw(text: string) {
      if (!interactive) return;
      run.deps.terminal.err(`\r\u001b[2K${run.paint('cyan', SPINNER[frame++ % SPINNER.length]!)} ${text}`);
      shown = true;
    },
    clear() {
      if (shown) run.deps.terminal.err('\r\u001b[2K');
      shown = false;
    },
  };
}

interface Follow {
  readonly timeoutMs?: number;
  /** The state the caller has already said (a new call's), not said again. */
  readonly from?: string;
  /** Progress as the tool prints it, live (stdout/stderr pieces). */
  readonly onProgress?: (stream: string, data: string) => void;
}

/**
 * Follows one invocation to where a wait ends, over its event stream (reconnecting when it drops:
 * the stream starts again with the current state, so nothing is missed). A call waiting on
 * approval is said once, with where to decide it. Returns the invocation as it ended.
 */
export async function followInvocation(run: Run, client: RouterClient, id: string, options: Follow = {}): Promise<Row> {
  const line = statusLine(run);
  const started = run.deps.now().getTime();
  let state = 'unknown';
  let timedOut = false;
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  run.deps.interrupted.addEventListener('abort', onInterrupt);
  const timer =
    options.timeoutMs !== undefined
      ? setTimeout(() => ((timedOut = true), stop.abort()), options.timeoutMs)
      : undefined;
  const ticker = run.deps.terminal.interactive
    ? setInterval(() => line.draw(`${state} ${Math.round((run.deps.now().getTime() - started) / 1000)}s`), 120)
    : undefined;
  const told = new Set<string>();
  const say = (text: string) => {
    line.clear();
    run.note(text);
  };
  try {
    for (let attempt = 0; !ENDS.has(state); attempt++) {
      try {
        for await (const event of client.events(`exec/invocations/${id}/events`, { signal: stop.signal })) {
          attempt = 0;
          const data = JSON.parse(event.data) as Row;
          if (event.event === 'progress') options.onProgress?.(String(data['stream']), String(data['data']));
          if (event.event !== 'state' || data['state'] === state) continue;
          state = String(data['state']);
          if (!run.deps.terminal.interactive && state !== options.from) run.note(`${id}: ${state}`);
          if (state === 'pending_approval') {
            const invocation = await client.call<Row>('GET', `exec/invocations/${id}`);
            const approval = text(invocation['approval_id']);
            if (approval && !told.has(approval)) say(approvalHint(run, approval, text(invocation['risk'])));
            told.add(approval);
          }
          if (ENDS.has(state)) break;
        }
      } catch (error) {
        if (stop.signal.aborted) break;
        if (!worthReconnecting(error)) throw error;
      }
      if (ENDS.has(state) || stop.signal.aborted) break;
      await pause(RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)]!, stop.signal);
    }
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
    line.clear();
    run.deps.interrupted.removeEventListener('abort', onInterrupt);
  }
  if (run.deps.interrupted.aborted)
    throw new CliError(`stopped watching ${id} (it goes on: xeroctl exec watch ${id})`, EXIT.interrupted);
  if (!ENDS.has(state) && timedOut)
    throw new CliError(
      `${id} is still ${state} after the timeout; it goes on (xeroctl exec watch ${id})`,
      EXIT.timedOut,
      'timed_out',
    );
  return client.call<Row>('GET', `exec/invocations/${id}`);
}

/** How a waited-for call ended, as an exit: done is 0, anything else 6 with why. */
export function endedWell(invocation: Row): void {
  const state = String(invocation['state']);
  if (state === 'succeeded') return;
  const history = (invocation['history'] as Row[] | undefined) ?? [];
  const cause = history.at(-1)?.['cause'] ?? (invocation['result'] as Row | undefined)?.['error'];
  const hint =
    state === 'ambiguous'
      ? `; check the system, then xeroctl exec resolve ${text(invocation['id'])} --outcome succeeded|failed`
      : '';
  throw new CliError(
    `${text(invocation['id'])} ended ${state}${cause ? ` (${typeof cause === 'string' ? cause : JSON.stringify(cause)})` : ''}${hint}`,
    EXIT.endedUnsuccessfully,
    state,
  );
}
