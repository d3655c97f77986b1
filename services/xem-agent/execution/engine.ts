import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { FrameBody, FrameType } from '../../protocol/frame-bodies.js';
import type { Logger } from '../../runtime/logger.js';
import { createRedactor } from '../../runtime/redact.js';
import { createStreamScrubber } from '../../runtime/redact-stream.js';
import type { LoadedTool } from '../bundles/loader.js';
import { renderArgv } from '../executors/argv.js';
import { processStartTicks, runCommand, stopLeftoverGroup } from '../executors/command.js';
import { CredentialsError, resolveCredentials } from '../executors/credentials.js';
import { headersFromCredentials, HttpTemplateError, runHttp } from '../executors/http.js';
import { callMcpTool } from '../executors/mcp.js';
import { deepThink, type RouterCallback } from '../executors/router-callback.js';
import type { DispatchKey, Outbox } from '../outbox.js';
import { checkDispatch, type Dispatch } from './dispatch-check.js';

type Result = FrameBody<'exec.result'>;

export interface ExecutionOptions {
  readonly outbox: Outbox;
  /** Sends a frame that needs no durability (accepted, progress). */
  readonly send: <T extends FrameType>(type: T, body: FrameBody<T>) => void;
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
}

export interface ExecutionEngine {
  /** Reports the calls a crash interrupted as interrupted (never runs them again); once, at start. */
  recover(): void;
  dispatch(dispatch: Dispatch): void;
  cancel(cancel: FrameBody<'exec.cancel'>): void;
  inFlight(): FrameBody<'lease_renewal'>['in_flight'];
  readonly running: number;
  /** Stops taking work, waits up to graceMs for running calls, then stops them (interrupted). */
  drain(graceMs: number): Promise<void>;
}

const MAX_OUTPUT = 256 * 1024;
/** A command's output is kept up to this much, sent in MAX_OUTPUT chunks (at most 16). */
const MAX_CAPTURE = 16 * MAX_OUTPUT;
const MAX_PROGRESS = 1024 * 1024;
/** The final progress frame's seq: after any live one, whatever number they reached. */
const FINAL_SEQ = Number.MAX_SAFE_INTEGER;
// Tools get a plain environment, never the agent's own (which holds its join key and tokens).
const PASSED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ'];

/**
 * Runs dispatched tool calls: each dispatch is claimed durably first (a duplicate never runs),
 * checked, acknowledged with exec.accepted, run, and its result written to the outbox before it
 * is sent. Results of calls a crash interrupted are reported at start, never re-run.
 */
export function createExecutionEngine(options: ExecutionOptions): ExecutionEngine {
  const running = new Map<string, { controller: AbortController; stopping?: 'cancelled' | 'interrupted'; done: Promise<void> }>();
  const state = { accepting: true };
  // The last progress line (how it ended) is as durable as the result: a watcher never misses it.
  const finish = (dispatch: DispatchKey, body: Result, tool = 'unknown') => {
    const ending = `${body.status}${body.exit_code === null ? '' : ` (exit code ${body.exit_code})`} after ${body.duration_ms} ms`;
    const last = { invocation_id: body.invocation_id, attempt: body.attempt, seq: FINAL_SEQ, stream: 'status', data: ending };
    // Output past the first chunk goes ahead of the result, each chunk its own frame.
    const chunks = splitOutput(body.output);
    const extra = chunks.slice(1).map((data, index) => ({ frameId: randomUUID(), type: 'exec.output', body: { invocation_id: body.invocation_id, attempt: body.attempt, index: index + 1, data } }));
    const result = { ...body, output: chunks[0] ?? '', ...(extra.length > 0 ? { output_chunks: extra.length } : {}) };
    options.outbox.finish(dispatch, { frameId: randomUUID(), type: 'exec.progress', body: last }, ...extra, { frameId: randomUUID(), type: 'exec.result', body: result });
    options.onFinished?.(tool, body.status);
    options.deliver();
  };

  const run = async (dispatch: Dispatch, tool: LoadedTool) => {
    const key = keyOf(dispatch);
    const controller = new AbortController();
    let release = () => undefined as void;
    const entry: { controller: AbortController; stopping?: 'cancelled' | 'interrupted'; done: Promise<void> } = { controller, done: new Promise<void>((resolve) => (release = resolve)) };
    running.set(key, entry);
    try {
      finish(dispatch, await execute(options, dispatch, tool, controller.signal, entry), dispatch.tool);
    } catch (error) {
      const code = error instanceof CredentialsError ? 'credentials_unavailable' : error instanceof HttpTemplateError ? 'invalid_args' : 'exec_failed';
      options.logger.warning({ invocation_id: dispatch.invocation_id, code, err: error }, 'tool call could not run');
      finish(dispatch, outcomeless(dispatch, 'failed', code, error instanceof Error ? error.message : String(error)), dispatch.tool);
    } finally {
      running.delete(key);
      release();
    }
  };

  return {
    recover() {
      for (const lost of options.outbox.unfinished()) {
        // Whatever it left running would keep acting after its result says interrupted: stop it.
        const stopped = lost.pgid !== null && stopLeftoverGroup(lost.pgid, lost.started_ticks);
        options.logger.warning({ invocation_id: lost.invocation_id, attempt: lost.attempt, stopped_leftover_processes: stopped }, 'a call was running when the agent stopped: reporting it interrupted, not running it again');
        const detail = stopped ? '; the processes it had started were stopped' : '';
        finish(lost, outcomeless(lost, 'interrupted', 'agent_restarted', `the agent stopped while this call ran; its outcome is unknown${detail}`));
      }
    },
    dispatch(dispatch) {
      if (!options.outbox.claim(dispatch, Date.now())) {
        options.logger.info({ invocation_id: dispatch.invocation_id, attempt: dispatch.attempt }, 'dispatch seen before: not run again');
        return;
      }
      const checked = checkDispatch(dispatch, { tools: options.tools(), workspaces: options.workspaces(), running: running.size, maxConcurrent: options.maxConcurrent, accepting: state.accepting, now: Date.now() });
      if ('refusal' in checked) {
        finish(dispatch, outcomeless(dispatch, 'rejected', checked.refusal.code, checked.refusal.message), dispatch.tool);
        return;
      }
      options.send('exec.accepted', { invocation_id: dispatch.invocation_id, attempt: dispatch.attempt });
      void run(dispatch, checked.tool);
    },
    cancel(cancel) {
      const entry = running.get(keyOf(cancel));
      if (!entry) return;
      entry.stopping = 'cancelled';
      entry.controller.abort();
    },
    inFlight: () => [...running.keys()].map(parseKey),
    get running() {
      return running.size;
    },
    async drain(graceMs) {
      state.accepting = false;
      const all = () => Promise.all([...running.values()].map((entry) => entry.done));
      const timer = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([all(), timer]);
      for (const entry of running.values()) {
        entry.stopping = 'interrupted';
        entry.controller.abort();
      }
      await all();
    },
  };
}

async function execute(options: ExecutionOptions, dispatch: Dispatch, tool: LoadedTool, signal: AbortSignal, entry: { stopping?: 'cancelled' | 'interrupted' }): Promise<Result> {
  const credentials = tool.spec.credentials_ref ? resolveCredentials(options.credentialsDir, dispatch.workspace_id, tool.spec.credentials_ref) : { env: {}, secrets: [] };
  const redactor = createRedactor(credentials.secrets);
  const base = options.baseEnv;
  const timeoutMs = Math.min(dispatch.timeout_ms, tool.spec.timeout_ms);
  const started = Date.now();
  const done = { invocation_id: dispatch.invocation_id, attempt: dispatch.attempt };
  if (tool.mcp) {
    const called = await callMcpTool(tool, dispatch.args, { ...base, ...credentials.env }, timeoutMs, signal);
    return { ...done, status: settled(called, !called.isError, entry.stopping), exit_code: null, ...capped(redactor.text(called.output)), duration_ms: Date.now() - started };
  }
  if (tool.callback) {
    const called = await deepThink(options.routerCallback!, dispatch.args, timeoutMs, signal);
    const output = createRedactor([options.routerCallback!.token]).text(called.output);
    return { ...done, status: settled(called, called.ok, entry.stopping), exit_code: null, ...capped(output), duration_ms: Date.now() - started };
  }
  if (tool.spec.http) {
    const called = await runHttp(tool.spec.http, dispatch.args, headersFromCredentials(credentials.env), timeoutMs, signal);
    const status = settled(called, called.status !== null && called.status >= 200 && called.status < 300, entry.stopping);
    const error = called.error ? { error: { code: called.error.code, message: redactor.text(called.error.message).slice(0, 1024) } } : {};
    return { ...done, status, exit_code: null, output: redactor.text(called.output), output_truncated: called.truncated, duration_ms: Date.now() - started, ...error };
  }
  const command = tool.spec.command!;
  const progress = { seq: 0, bytes: 0 };
  // One scrubber per stream: a secret split across two reads is still removed before it is sent.
  const scrubbers = { stdout: createStreamScrubber(redactor), stderr: createStreamScrubber(redactor) };
  const emit = (stream: 'stdout' | 'stderr', data: string) => data && options.send('exec.progress', { ...done, seq: progress.seq++, stream, data: data.slice(0, 256 * 1024) });
  // Live output is for watching, capped per call; the result keeps its own (capped) copy.
  const onOutput = (stream: 'stdout' | 'stderr', text: string) => {
    if (progress.bytes > MAX_PROGRESS) return;
    progress.bytes += text.length;
    if (progress.bytes <= MAX_PROGRESS) emit(stream, scrubbers[stream].push(text));
    else options.send('exec.progress', { ...done, seq: progress.seq++, stream: 'status', data: `live output stops after ${MAX_PROGRESS} bytes; the result carries the captured output` });
  };
  const outcome = await runCommand({
    argv: renderArgv(command.argv, dispatch.args),
    cwd: resolve(tool.bundleDir, command.cwd ?? '.'),
    env: { ...base, ...command.env, ...credentials.env },
    timeoutMs,
    signal,
    onOutput,
    maxOutputBytes: MAX_CAPTURE,
    onStart: (pid) => options.outbox.started(dispatch, pid, processStartTicks(pid)),
  });
  for (const stream of ['stdout', 'stderr'] as const) emit(stream, scrubbers[stream].end());
  return { ...done, status: settled(outcome, outcome.exitCode === 0, entry.stopping), exit_code: outcome.exitCode, output: redactor.text(outcome.output), output_truncated: outcome.truncated, duration_ms: outcome.durationMs };
}

/** The environment tools and MCP servers start with: the basics, never the agent's own settings. */
export function plainEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(PASSED_ENV.flatMap((name) => (env[name] === undefined ? [] : [[name, env[name]!]])));
}

/** How a call ended, whatever ran it: stopped by us, out of time, or its own verdict. */
function settled(ended: { cancelled: boolean; timedOut: boolean }, ok: boolean, stopping: 'cancelled' | 'interrupted' | undefined): Result['status'] {
  if (ended.cancelled) return stopping ?? 'cancelled';
  if (ended.timedOut) return 'timed_out';
  return ok ? 'succeeded' : 'failed';
}

function capped(output: string): Pick<Result, 'output' | 'output_truncated'> {
  return { output: output.slice(0, MAX_OUTPUT), output_truncated: output.length > MAX_OUTPUT };
}

function outcomeless(dispatch: DispatchKey, status: Result['status'], code: string, message: string): Result {
  return { invocation_id: dispatch.invocation_id, attempt: dispatch.attempt, status, exit_code: null, output: '', output_truncated: false, duration_ms: 0, error: { code, message: message.slice(0, 1024) } };
}

// Chunks are cut by UTF-8 bytes, on character boundaries, so no frame outgrows the router's
// message size limit however wide the characters are.
function splitOutput(output: string): string[] {
  const bytes = Buffer.from(output, 'utf8');
  const chunks: string[] = [];
  for (let start = 0; start < bytes.length; ) {
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
