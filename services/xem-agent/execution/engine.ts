import { randomUUID } from 'node:crypto';
import type { FrameBody, FrameType } from '../../protocol/frame-bodies.js';
import { systemClock, type Clock } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/logger.js';
import { TaskSet } from '../../runtime/task-set.js';
import { inSpan, type TraceCarrier } from '../../runtime/tracing.js';
import type { LoadedTool } from '../bundles/loader.js';
import { stopLeftoverGroup } from '../executors/command.js';
import { CredentialsError } from '../executors/credentials.js';
import { HttpTemplateError } from '../executors/http.js';
import type { RouterCallback } from '../executors/router-callback.js';
import type { DispatchKey, Outbox } from '../outbox.js';
import { checkDispatch, type Dispatch } from './dispatch-check.js';
import { execute, MAX_OUTPUT, type Result, type Stopping } from './execute.js';

export interface ExecutionOptions {
  readonly outbox: Outbox;
  /** Sends a frame that needs no durability (accepted, progress). */
  readonly send: <T extends FrameType>(type: T, body: FrameBody<T>, trace?: TraceCarrier) => void;
  /** A result was queued in the outbox: deliver it. */
  readonly deliver: () => void;
  readonly tools: () => ReadonlyMap<string, LoadedTool>;
  readonly workspaces: () => readonly string[];
  readonly credentialsDir: string;
  readonly maxConcurrent: number;
  readonly logger: Logger;
  /** For tools that call the router back (deep_think); without it they are refused. */
  readonly routerCallback?: RouterCallback;
  /** Told about every finished call (metrics). */
  readonly onFinished?: (tool: string, status: Result['status']) => void;
  /** What tools start from: a plain part of the process environment (plainEnvironment), never the agent's own. */
  readonly baseEnv: Record<string, string>;
  /** Judges dispatch deadlines (not_after) and stamps claims. @default systemClock */
  readonly clock?: Clock;
}

export interface ExecutionEngine {
  /** Reports the calls a crash interrupted as interrupted (never runs them again); once, at start. */
  recover(): void;
  /** Runs a dispatch in a span continuing `trace` (the dispatch frame's). */
  dispatch(dispatch: Dispatch, trace?: TraceCarrier): void;
  cancel(cancel: FrameBody<'exec.cancel'>): void;
  inFlight(): FrameBody<'lease_renewal'>['in_flight'];
  readonly running: number;
  /** Stops taking work, waits up to graceMs for running calls, then stops them (interrupted). */
  drain(graceMs: number): Promise<void>;
}

/** The final progress frame's seq: after any live one, whatever number they reached. */
const FINAL_SEQ = Number.MAX_SAFE_INTEGER;
// Tools get a plain environment, never the agent's own (which holds its join key and tokens).
const PASSED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'];

/**
 * Runs dispatched tool calls: each dispatch is claimed durably first (a duplicate never runs),
 * checked, acknowledged with exec.accepted, run, and its result written to the outbox before it
 * is sent. Results of calls a crash interrupted are reported at start (recover), never re-run.
 * Every call runs in a span continuing the dispatch's trace; its frames carry that span.
 */
export function createExecutionEngine(options: ExecutionOptions): ExecutionEngine {
  const running = new TaskSet<Running>();
  const state = { accepting: true };
  // The last progress line (how it ended) is as durable as the result: a watcher never misses it.
  const finish = (dispatch: DispatchKey, body: Result, tool = 'unknown', trace?: TraceCarrier) => {
    const ending = `${body.status}${body.exit_code === null ? '' : ` (exit code ${body.exit_code})`} after ${body.duration_ms} ms`;
    const last = {
      invocation_id: body.invocation_id,
      attempt: body.attempt,
      seq: FINAL_SEQ,
      stream: 'status',
      data: ending,
    };
    const traced = trace ? { trace } : {};
    // Output past the first chunk goes ahead of the result, each chunk its own frame.
    const chunks = splitOutput(body.output);
    const extra = chunks.slice(1).map((data, index) => ({
      frameId: randomUUID(),
      type: 'exec.output',
      body: { invocation_id: body.invocation_id, attempt: body.attempt, index: index + 1, data },
      ...traced,
    }));
    const result = { ...body, output: chunks[0] ?? '', ...(extra.length > 0 ? { output_chunks: extra.length } : {}) };
    options.outbox.finish(dispatch, { frameId: randomUUID(), type: 'exec.progress', body: last, ...traced }, ...extra, {
      frameId: randomUUID(),
      type: 'exec.result',
      body: result,
      ...traced,
    });
    options.onFinished?.(tool, body.status);
    options.deliver();
  };
  const run = (dispatch: Dispatch, tool: LoadedTool, trace: TraceCarrier | undefined, entry: Running) =>
    inSpan(
      `xem.execute ${dispatch.tool}`,
      trace,
      async (span) => {
        const context = {
          ...options,
          stopping: () => entry.stopping,
          send: <T extends FrameType>(type: T, body: FrameBody<T>) => options.send(type, body, span),
        };
        options.send('exec.accepted', { invocation_id: dispatch.invocation_id, attempt: dispatch.attempt }, span);
        try {
          finish(dispatch, await execute(context, dispatch, tool, entry.controller.signal), dispatch.tool, span);
        } catch (error) {
          const code =
            error instanceof CredentialsError
              ? 'credentials_unavailable'
              : error instanceof HttpTemplateError
                ? 'invalid_args'
                : 'exec_failed';
          options.logger.warning(
            { invocation_id: dispatch.invocation_id, code, err: error },
            'tool call could not run',
          );
          finish(
            dispatch,
            outcomeless(dispatch, 'failed', code, error instanceof Error ? error.message : String(error)),
            dispatch.tool,
            span,
          );
        }
      },
      { 'xerotier.invocation_id': dispatch.invocation_id, 'xerotier.attempt': dispatch.attempt },
    );

  return {
    recover() {
      for (const lost of options.outbox.unfinished()) {
        // Whatever it left running would keep acting after its result says interrupted: stop it.
        const stopped = lost.pgid !== null && stopLeftoverGroup(lost.pgid, lost.started_ticks);
        options.logger.warning(
          { invocation_id: lost.invocation_id, attempt: lost.attempt, stopped_leftover_processes: stopped },
          'a call was running when the agent stopped: reporting it interrupted, not running it again',
        );
        const detail = stopped ? '; the processes it had started were stopped' : '';
        finish(
          lost,
          outcomeless(
            lost,
            'interrupted',
            'agent_restarted',
            `the agent stopped while this call ran; its outcome is unknown${detail}`,
          ),
        );
      }
    },
    dispatch(dispatch, trace) {
      const now = (options.clock ?? systemClock).now();
      if (!options.outbox.claim(dispatch, now)) {
        options.logger.info(
          { invocation_id: dispatch.invocation_id, attempt: dispatch.attempt },
          'dispatch seen before: not run again',
        );
        return;
      }
      const checked = checkDispatch(dispatch, {
        tools: options.tools(),
        workspaces: options.workspaces(),
        running: running.size,
        maxConcurrent: options.maxConcurrent,
        accepting: state.accepting,
        now,
      });
      if ('refusal' in checked) {
        finish(
          dispatch,
          outcomeless(dispatch, 'rejected', checked.refusal.code, checked.refusal.message),
          dispatch.tool,
          trace,
        );
        return;
      }
      const controller = new AbortController();
      const entry: Running = { controller, done: Promise.resolve(), stop: () => stop(entry, 'interrupted') };
      entry.done = run(dispatch, checked.tool, trace, entry);
      running.add(keyOf(dispatch), entry);
    },
    cancel(cancel) {
      const entry = running.get(keyOf(cancel));
      if (entry) stop(entry, 'cancelled');
    },
    inFlight: () => running.keys().map(parseKey),
    get running() {
      return running.size;
    },
    async drain(graceMs) {
      state.accepting = false;
      await running.drain(graceMs);
    },
  };
}

interface Running {
  readonly controller: AbortController;
  stopping?: Stopping;
  done: Promise<void>;
  stop(): void;
}

function stop(entry: Running, why: Stopping): void {
  entry.stopping ??= why;
  entry.controller.abort();
}

/** The environment tools and MCP servers start with: the basics, never the agent's own settings. */
export function plainEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(PASSED_ENV.flatMap((name) => (env[name] === undefined ? [] : [[name, env[name]!]])));
}

function outcomeless(dispatch: DispatchKey, status: Result['status'], code: string, message: string): Result {
  return {
    invocation_id: dispatch.invocation_id,
    attempt: dispatch.attempt,
    status,
    exit_code: null,
    output: '',
    output_truncated: false,
    duration_ms: 0,
    error: { code, message: message.slice(0, 1024) },
  };
}

// Chunks are cut by UTF-8 bytes, on character boundaries, so no frame outgrows the router's
// message size limit however wide the characters are.
function splitOutput(output: string): string[] {
  const bytes = Buffer.from(output, 'utf8');
  const chunks: string[] = [];
  for (let start = 0; start < bytes.length;) {
    let end = Math.min(bytes.length, start + MAX_OUTPUT);
    while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end -= 1;
    chunks.push(bytes.subarray(start, end).toString('utf8'));
    start = end;
  }
  return chunks;
}

const keyOf = (dispatch: DispatchKey) => `${dispatch.attempt}#${dispatch.invocation_id}`;
function parseKey(key: string): DispatchKey {
  const at = key.indexOf('#');
  return { attempt: Number(key.slice(0, at)), invocation_id: key.slice(at + 1) };
}
